/**
 * Random generator throughput: standard normal values per second for each generator, drawn as
 * one latent of 1×4×64×64 (16384 values) per call, side by side in one run.
 *   node --import tsx bench/rng.ts
 */
import { cpus } from 'node:os'
import { philox, torchCpu, torchCuda, type Generator } from '../src/core/rng/index.js'
import { getKernels, nativeInfo } from '../src/native/loader.js'
import { referenceKernels } from '../src/native/reference.js'

const SHAPE = [1, 4, 64, 64]
const N = SHAPE.reduce((a, b) => a * b, 1)

function measure(make: () => Generator, minMs = 1500): number {
  const g = make()
  g.randn(SHAPE) // warm up
  let values = 0
  const start = performance.now()
  let now = start
  while (now - start < minMs) {
    g.randn(SHAPE)
    values += N
    now = performance.now()
  }
  return values / ((now - start) / 1000)
}

const info = nativeInfo()
const rows: [string, number][] = []
rows.push(['philox (TypeScript reference)', measure(() => philox(0, { kernels: referenceKernels }))])
if (info.loaded) rows.push([`philox (native ${getKernels('cpu').device}, ${info.threads} threads)`, measure(() => philox(0, { kernels: getKernels('cpu') }))])
rows.push(['torchCpu (MT19937 + AVX2 Box-Muller emulation)', measure(() => torchCpu(0))])
rows.push(['torchCuda (Philox + curand Box-Muller emulation)', measure(() => torchCuda(0))])

const base = rows[0]![1]
console.log(`machine: ${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length}, Node ${process.version}, native addon: ${info.loaded ? 'loaded' : 'not loaded'}`)
console.log(`draws of [${SHAPE.join(', ')}]\n`)
console.log('| generator | values/s | vs philox TS |')
console.log('|---|---:|---:|')
for (const [name, rate] of rows) console.log(`| ${name} | ${(rate / 1e6).toFixed(2)} M | ${(rate / base).toFixed(2)}× |`)
