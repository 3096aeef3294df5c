import t from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Command } from 'commander'
import { register } from '../cli/commands/image.js'
import { readPng, type RgbImage } from '../modalities/image/index.js'

const root = new URL('..', import.meta.url).pathname

/** Luma statistics that tell a picture from a constant image and from white noise. */
function pictureStats(img: RgbImage): { std: number; autocorrelation: number; tvRatio: number } {
  const { width: w, height: h, data } = img
  const y = new Float64Array(w * h)
  for (let p = 0; p < w * h; p++) y[p] = 0.299 * data[p * 3]! + 0.587 * data[p * 3 + 1]! + 0.114 * data[p * 3 + 2]!
  const mean = y.reduce((a, b) => a + b, 0) / y.length
  let v = 0
  for (const a of y) v += (a - mean) ** 2
  v /= y.length
  // lag-1 autocorrelation over horizontal and vertical neighbours (white noise: about 0)
  let c = 0
  let n = 0
  const tv = (a: Float64Array): number => {
    let s = 0
    for (let r = 0; r < h; r++) for (let x = 0; x + 1 < w; x++) s += Math.abs(a[r * w + x + 1]! - a[r * w + x]!)
    for (let r = 0; r + 1 < h; r++) for (let x = 0; x < w; x++) s += Math.abs(a[(r + 1) * w + x]! - a[r * w + x]!)
    return s
  }
  for (let r = 0; r < h; r++) {
    for (let x = 0; x < w; x++) {
      if (x + 1 < w) (c += (y[r * w + x]! - mean) * (y[r * w + x + 1]! - mean)), n++
      if (r + 1 < h) (c += (y[r * w + x]! - mean) * (y[(r + 1) * w + x]! - mean)), n++
    }
  }
  // the same pixel values in a fixed pseudo-random order: white noise with the image's histogram
  const shuffled = Float64Array.from(y)
  let s = 12345
  for (let i = shuffled.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648
    const j = s % (i + 1)
    ;[shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!]
  }
  return { std: Math.sqrt(v), autocorrelation: c / n / v, tvRatio: tv(y) / tv(shuffled) }
}

t.test('the statistics separate pictures from noise and constants', async (t) => {
  const noise = { width: 64, height: 64, data: Uint8Array.from({ length: 64 * 64 * 3 }, (_, i) => (Math.sin(i * 12.9898) * 43758.5453 * 255) & 255) }
  const ns = pictureStats(noise)
  t.ok(Math.abs(ns.autocorrelation) < 0.1 && ns.tvRatio > 0.8, `noise: r=${ns.autocorrelation.toFixed(3)}, TV ratio ${ns.tvRatio.toFixed(2)}`)
  const disc = new Uint8Array(64 * 64 * 3).fill(255)
  for (let p = 0; p < 64 * 64; p++) if (((p % 64) - 32) ** 2 + (Math.floor(p / 64) - 32) ** 2 < 400) disc.fill(0, p * 3, p * 3 + 3)
  const ds = pictureStats({ width: 64, height: 64, data: disc })
  t.ok(ds.autocorrelation > 0.9 && ds.tvRatio < 0.2, `disc: r=${ds.autocorrelation.toFixed(3)}, TV ratio ${ds.tvRatio.toFixed(2)}`)
})

t.test('`diffusekit image "red apple" -o apple.png` writes a 64x64 picture with the bundled emoji model', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cli-image-'))
  const out = join(dir, 'apple.png')
  const args = ['image', 'red apple', '-o', out, '--seed', '3', '-q', '--json']
  let stdout: string
  if (readFileSync(join(root, 'cli/main.ts'), 'utf8').includes('commands/image.js')) {
    // the real entry point, offline (no network is touched: the model ships in models/emoji)
    stdout = execFileSync(process.execPath, ['--import', 'tsx', join(root, 'cli/main.ts'), ...args], { cwd: root, encoding: 'utf8' })
  } else {
    const program = new Command()
    program.exitOverride()
    register(program)
    const chunks: string[] = []
    const write = process.stdout.write.bind(process.stdout)
    process.stdout.write = ((s: string) => (chunks.push(String(s)), true)) as typeof process.stdout.write
    try {
      await program.parseAsync(['node', 'diffusekit', ...args])
    } finally {
      process.stdout.write = write
    }
    stdout = chunks.join('')
  }
  const result = JSON.parse(stdout) as { files: string[]; record: { model: string; generator: { seed: number } } }
  t.same(result.files, [out])
  t.equal(result.record.model, 'emoji')
  t.equal(result.record.generator.seed, 3)
  const img = await readPng(out)
  t.same([img.width, img.height], [64, 64])
  const s = pictureStats(img)
  t.ok(s.std > 10, `not constant (luma std ${s.std.toFixed(1)})`)
  t.ok(s.autocorrelation > 0.5, `spatially smooth like a picture (lag-1 autocorrelation ${s.autocorrelation.toFixed(3)})`)
  t.ok(s.tvRatio < 0.5, `total variation ${s.tvRatio.toFixed(2)} of the same pixels shuffled (noise ≈ 1)`)
})

t.test('bad CLI input exits with a usage code and a one-line message', async (t) => {
  const program = new Command()
  program.exitOverride()
  register(program)
  const errs: string[] = []
  const write = process.stderr.write.bind(process.stderr)
  process.stderr.write = ((s: string) => (errs.push(String(s)), true)) as typeof process.stderr.write
  const before = process.exitCode
  try {
    await program.parseAsync(['node', 'diffusekit', 'image', 'red apple', '-W', '60', '-o', join(tmpdir(), 'x.png'), '-q'])
  } finally {
    process.stderr.write = write
  }
  t.match(errs.join(''), /multiple of 16.*\[INVALID_ARGUMENT\]/)
  t.equal(process.exitCode, 2)
  process.exitCode = before
})
