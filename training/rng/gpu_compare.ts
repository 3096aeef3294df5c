/**
 * Compares torchCpu / torchCuda with the torch.randn values training/rng/gpu_check.py drew on a
 * real GPU, and (with --fixtures) writes the small test fixtures test/fixtures/rng/cuda_extra.json
 * and cpu_extra.json from them.
 *
 *   npx tsx training/rng/gpu_compare.ts <randn_extra.json> [--fixtures]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { torchCpu, torchCuda } from '../../src/core/rng/index.js'
import { bitsFromFloat } from '../../src/core/rng/float32.js'

interface Case {
  seed: number
  shape: number[]
  [key: string]: unknown
}
interface Extra {
  torch: string
  cuda: string
  gpu: string
  sms: number
  max_threads_per_sm: number
  cases: Case[]
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const args = process.argv.slice(2)
const file = args.find((a) => !a.startsWith('--'))
if (!file) {
  console.error('usage: npx tsx training/rng/gpu_compare.ts <randn_extra.json> [--fixtures]')
  process.exit(2)
}
const d = JSON.parse(readFileSync(file, 'utf8')) as Extra
console.log(`torch ${d.torch} (CUDA ${d.cuda}) on ${d.gpu}: ${d.sms} SMs, ${d.max_threads_per_sm} threads/SM`)

const hex = (v: number) => (bitsFromFloat(v) >>> 0).toString(16).padStart(8, '0')
const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1)

// What the fixtures keep: every seed with the shapes that cost little to regenerate in a test,
// the two looping shapes for one seed each (both draws of the first, to cover the offset carried
// past a multi-iteration draw), and up to 48 values per draw (ends, loop boundaries, random).
const LARGE: Record<string, number> = { '[1200000]': 2 ** 32 + 7, '[3,1000000]': 42 }
function keepInFixture(c: Case, key: 'first' | 'second'): boolean {
  const s = JSON.stringify(c.shape)
  if (!(s in LARGE)) return true
  if (LARGE[s] !== c.seed) return false
  return key === 'first' || s === '[1200000]'
}
function sample(idx: number[]): number[] {
  const n = idx.length
  if (n <= 48) return idx.map((_, j) => j)
  const pick = new Set<number>()
  for (let j = 0; j < 8; j++) pick.add(j).add(n - 1 - j)
  const stride = Math.max(1, Math.floor(n / 32))
  for (let j = stride; j < n && pick.size < 48; j += stride) pick.add(j)
  for (let j = 0; j < n && pick.size < 48; j++) pick.add(j)
  return [...pick].sort((a, b) => a - b)
}

let bad = 0
let total = 0
let sums = 0
const fixtures: Record<'cpu' | 'cuda', unknown[]> = { cpu: [], cuda: [] }
for (const c of d.cases) {
  for (const dev of ['cpu', 'cuda'] as const) {
    const g = dev === 'cpu' ? torchCpu(c.seed) : torchCuda(c.seed, { multiProcessorCount: d.sms })
    const draws: unknown[] = []
    for (const key of ['first', 'second'] as const) {
      const k = dev === 'cpu' ? key : 'cuda_' + key
      const idx = c[k + '_idx'] as number[]
      const want = c[k] as number[]
      const sum = c[k + '_sum'] as number
      const v = g.randn(c.shape)
      idx.forEach((i, j) => {
        total++
        if (Math.fround(want[j]!) !== v[i]) {
          bad++
          if (bad < 10) console.log('MISMATCH', dev, c.seed, JSON.stringify(c.shape), key, i, want[j], v[i])
        }
      })
      let s = 0
      for (const x of v) s += x
      sums++
      if (Math.abs(s - sum) > 1e-6 * Math.max(1, v.length ** 0.5)) {
        bad++
        console.log('SUM MISMATCH', dev, c.seed, JSON.stringify(c.shape), key, s, sum)
      }
      if (keepInFixture(c, key)) {
        const keep = sample(idx)
        draws.push({ idx: keep.map((j) => idx[j]!), values: keep.map((j) => hex(Math.fround(want[j]!))), sum })
      }
    }
    if (draws.length) fixtures[dev].push({ seed: c.seed, shape: c.shape, draws })
    if (numel(c.shape) > 100000) console.log(`  ${dev} seed ${c.seed} [${c.shape}] compared (${bad} mismatches so far)`)
  }
}
console.log(`values compared: ${total}, sums compared: ${sums}; mismatches: ${bad}`)

if (args.includes('--fixtures')) {
  if (bad) {
    console.error('not writing fixtures: there are mismatches')
    process.exit(1)
  }
  const dir = join(ROOT, 'test/fixtures/rng')
  mkdirSync(dir, { recursive: true })
  for (const dev of ['cpu', 'cuda'] as const) {
    const out = join(dir, `${dev}_extra.json`)
    const meta = {
      source: 'torch.randn(shape, generator=torch.Generator(device).manual_seed(seed)) twice per case, by training/rng/gpu_check.py',
      torch: d.torch,
      device: dev === 'cuda' ? d.gpu : 'cpu (torch on the GPU machine)',
      sms: dev === 'cuda' ? d.sms : undefined,
      values: 'float32 bit patterns (hex) at idx of the flattened draw; sum = float64 sum of the whole draw',
    }
    writeFileSync(out, JSON.stringify({ ...meta, cases: fixtures[dev] }) + '\n')
    console.log(`wrote ${out} (${fixtures[dev].length} cases)`)
  }
}
process.exit(bad ? 1 : 0)
