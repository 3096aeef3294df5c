import t from 'tap'
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const root = fileURLToPath(new URL('..', import.meta.url))

/** Runs an example as a user would (through the built package's public entry), returns stdout. */
async function example(file: string, args: string[] = [], cwd = root): Promise<string> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', fileURLToPath(new URL(`../examples/${file}`, import.meta.url)), ...args], {
    cwd,
    timeout: 240_000,
    maxBuffer: 1 << 24,
  })
  return stdout
}

t.test('examples import the built package by its name', async (t) => {
  t.ok(existsSync(new URL('../dist/src/index.js', import.meta.url)), 'dist/ is built (npm test builds it first)')
})

t.test('tiny-denoiser: samples from the exact Gaussian denoiser have its mean and std', async (t) => {
  // Heun (2nd order) with 25 steps is accurate to about 2% on this model; DDIM with 50 steps is first
  // order and shrinks the spread a little (~9%), as it does in the Python reference
  const heun = JSON.parse(await example('tiny-denoiser.ts', ['Heun', '25']))
  t.equal(heun.sampler, 'HeunDiscreteScheduler')
  t.ok(Math.abs(heun.mean - 0.5) < 0.01, `mean ${heun.mean}`)
  t.ok(Math.abs(heun.std - 0.25) < 0.25 * 0.03, `std ${heun.std}`)
  const karras = JSON.parse(await example('tiny-denoiser.ts', ['DPM++ 2M Karras', '20']))
  t.ok(Math.abs(karras.std - 0.25) < 0.25 * 0.03, `DPM++ 2M Karras std ${karras.std}`)
})

t.test('speak, music, image and point-cloud examples run as they stand and write real files', async (t) => {
  const { decodeWav } = await import('../modalities/audio/index.js')
  const { decodePng } = await import('../modalities/image/index.js')
  const dir = mkdtempSync(join(tmpdir(), 'dk-examples-'))
  await example('speak.ts', ['seven three one', join(dir, 'code.wav')])
  const speech = decodeWav(readFileSync(join(dir, 'code.wav')))
  t.ok(speech.channels[0]!.length / speech.sampleRate > 0.5, 'speech: more than half a second of audio')
  await example('music.ts', ['C4 E4 G4', 'piano', join(dir, 'tune.wav')])
  const music = decodeWav(readFileSync(join(dir, 'tune.wav')))
  t.ok(music.channels[0]!.some((v) => Math.abs(v) > 0.05), 'music: audible')
  await example('image.ts', ['red apple', join(dir, 'emoji.png')])
  const png = decodePng(readFileSync(join(dir, 'emoji.png')))
  t.ok(png.width >= 64 && png.height >= 64, `image: a ${png.width}x${png.height} grid`)
  await example('pointcloud-batch.ts', [join(dir, 'clouds'), '2'])
  const files = readdirSync(join(dir, 'clouds'))
  t.equal(files.filter((f) => f.endsWith('.ply')).length, 6, 'six clouds as PLY')
  t.equal(files.filter((f) => f.endsWith('.html')).length, 6, 'and as HTML previews')
})
