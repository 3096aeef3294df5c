// CPU kernel benchmark: the fused native guided DDIM step vs the same math as separate TypeScript
// loops vs the machine's memory bandwidth (a plain native copy), 16K to 64M floats; Philox noise
// native vs TypeScript. Run: npx tsx bench/kernels.ts [--max 67108864] [--no-write]
// Writes its table into bench/results/kernels.md (between the cpu markers; other sections kept).
import { cpus, loadavg, totalmem } from 'node:os'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { getKernels, loadAddon, nativeInfo, referenceKernels } from '../src/native/index.js'
import type { FusedStepParams } from '../src/native/index.js'

const args = process.argv.slice(2)
const maxN = Number(args[args.indexOf('--max') + 1] ?? 0) || 64 * 1024 * 1024
const write = !args.includes('--no-write')
const addon = loadAddon()
if (!addon) {
  console.error('the native addon is not loaded: ' + nativeInfo().error)
  process.exit(1)
}
const native = getKernels('cpu')
const loadBefore = loadavg()[0]!

/** Median milliseconds of fn over enough repetitions to fill ~minMs (at least 3). */
function time(fn: () => void, minMs = 300): number {
  fn() // warm-up (page faults, JIT)
  const samples: number[] = []
  const start = performance.now()
  while (samples.length < 3 || (performance.now() - start < minMs && samples.length < 200)) {
    const t0 = performance.now()
    fn()
    samples.push(performance.now() - t0)
  }
  samples.sort((a, b) => a - b)
  return samples[samples.length >> 1]!
}

const w = 7.5
const a = Math.sqrt(0.3)
const b = Math.sqrt(0.7)
const params: FusedStepParams = {
  predictionType: 'epsilon',
  alphaProdSqrt: a,
  betaProdSqrt: b,
  coefX0: Math.sqrt(0.55),
  coefEps: 0.6,
  coefSample: 0,
  coefNoise: 0.2,
  guidanceScale: w,
}

/** The same guided DDIM step as a straightforward TypeScript implementation: one loop per operation. */
function stepSeparateLoops(x: Float32Array, m: Float32Array, z: Float32Array, out: Float32Array, t1: Float32Array, t2: Float32Array): void {
  const n = x.length
  for (let i = 0; i < n; i++) t1[i] = m[n + i]! - m[i]! // cond − uncond
  for (let i = 0; i < n; i++) t1[i] = m[i]! + w * t1[i]! // guided eps
  for (let i = 0; i < n; i++) t2[i] = (x[i]! - b * t1[i]!) / a // x0
  for (let i = 0; i < n; i++) out[i] = params.coefX0 * t2[i]! + params.coefEps * t1[i]! // direction
  for (let i = 0; i < n; i++) out[i] = out[i]! + params.coefNoise * z[i]! // noise
}

const sizes: number[] = []
for (let n = 16 * 1024; n <= maxN; n *= 4) sizes.push(n)

const rows: string[] = []
const header = '| floats | copy GB/s | fused native step GB/s | step / copy bandwidth | separate TS loops ms | fused native ms | native speed-up |'
rows.push(header, '|---:|---:|---:|---:|---:|---:|---:|')
console.log(header)
for (const n of sizes) {
  const x = new Float32Array(n)
  const m = new Float32Array(2 * n)
  const z = new Float32Array(n)
  native.philoxNormal(1n, 0, x)
  native.philoxNormal(2n, 0, m)
  native.philoxNormal(3n, 0, z)
  const out = new Float32Array(n)
  const src = new Float32Array(n).fill(1)
  const t1 = new Float32Array(n)
  const t2 = new Float32Array(n)
  const copyMs = time(() => addon.copyF32(src, out))
  const stepMs = time(() => native.fusedStep(x, m, z, params, out))
  const tsMs = time(() => stepSeparateLoops(x, m, z, out, t1, t2))
  const copyGBs = (2 * 4 * n) / (copyMs * 1e-3) / 1e9
  const stepGBs = (5 * 4 * n) / (stepMs * 1e-3) / 1e9
  const row = `| ${n.toLocaleString('en-US')} | ${copyGBs.toFixed(1)} | ${stepGBs.toFixed(1)} | ${((100 * stepGBs) / copyGBs).toFixed(0)}% | ${tsMs.toFixed(3)} | ${stepMs.toFixed(3)} | ${(tsMs / stepMs).toFixed(1)}× |`
  rows.push(row)
  console.log(row)
}

const philoxRows: string[] = ['| floats | TypeScript ms | native ms | native speed-up | native GB/s written |', '|---:|---:|---:|---:|---:|']
console.log(philoxRows[0])
for (const n of [65_536, 1_048_576, 16_777_216].filter((v) => v <= maxN)) {
  const out = new Float32Array(n)
  const tsMs = time(() => referenceKernels.philoxNormal(9n, 0, out))
  const nMs = time(() => native.philoxNormal(9n, 0, out))
  const row = `| ${n.toLocaleString('en-US')} | ${tsMs.toFixed(2)} | ${nMs.toFixed(3)} | ${(tsMs / nMs).toFixed(1)}× | ${((4 * n) / (nMs * 1e-3) / 1e9).toFixed(2)} |`
  philoxRows.push(row)
  console.log(row)
}

const info = nativeInfo()
const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} hardware threads, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM`
const section = [
  '<!-- cpu:begin (written by bench/kernels.ts) -->',
  '### CPU kernels',
  '',
  `Machine: ${machine}; Node ${process.version}; addon ${info.version} (${info.simd}, ${info.threads} threads). Date: ${new Date().toISOString().slice(0, 16)}Z.`,
  'Command: `npx tsx bench/kernels.ts`. Median of repeated runs per size.',
  `Load average (1 min) while measuring: ${loadBefore.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end` +
    (Math.max(loadBefore, loadavg()[0]!) > cpus().length ? ' — the machine was shared with other jobs, so absolute figures are noisy; the ratios measured side by side are what to read.' : '.'),
  '',
  'Fused guided DDIM step (epsilon prediction, guidance 7.5, noise) reads x, uncond, cond, noise and writes out: 5 × 4 bytes per element.',
  'The copy column is a native multi-threaded memmove of the same size (read + write, 8 bytes per element); "step / copy bandwidth" compares',
  'effective bytes per second. The TypeScript baseline is the same math as five separate loops (one per operation, temporaries in between).',
  '',
  ...rows,
  '',
  'Philox normal noise (Philox4x32-10 + Box-Muller, bit-identical in both):',
  '',
  ...philoxRows,
  '<!-- cpu:end -->',
].join('\n')

if (write) {
  const file = fileURLToPath(new URL('./results/kernels.md', import.meta.url))
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '## Kernels\n\n<!-- cpu:begin --><!-- cpu:end -->\n'
  const re = /<!-- cpu:begin[\s\S]*?<!-- cpu:end -->/
  text = re.test(text) ? text.replace(re, section) : text + '\n' + section + '\n'
  writeFileSync(file, text)
  console.log(`written to ${file}`)
}
