import t from 'tap'
import { readFileSync } from 'node:fs'
import { torchCuda } from '../src/core/rng/index.js'
import { cudaLaunchShape } from '../src/core/rng/torch-cuda.js'
import { floatFromBits } from '../src/core/rng/float32.js'

// torch.randn on a real GPU (training/rng/gpu_check.py, sampled by training/rng/gpu_compare.ts):
// more seeds than ../shared/conformance/rng, seeds of 2^32 and above (the Philox key's high
// word), and draws so large that every CUDA thread loops, with the generator offset carried into
// the next draw.
interface Draw {
  idx: number[]
  values: string[]
  sum: number
}
interface Fixture {
  device: string
  sms: number
  cases: { seed: number; shape: number[]; draws: Draw[] }[]
}
const fx = JSON.parse(readFileSync(new URL('./fixtures/rng/cuda_extra.json', import.meta.url), 'utf8')) as Fixture

t.test(`torchCuda matches torch.randn on ${fx.device} for extra seeds and looping draws`, async (t) => {
  let values = 0
  let bigSeeds = 0
  let looping = 0
  for (const c of fx.cases) {
    const g = torchCuda(c.seed, { multiProcessorCount: fx.sms })
    const n = c.shape.reduce((a, b) => a * b, 1)
    if (c.seed >= 2 ** 32) bigSeeds++
    if (cudaLaunchShape(n, fx.sms).iterations > 1) looping++
    c.draws.forEach((d, k) => {
      const v = g.randn(c.shape)
      let bad = 0
      d.idx.forEach((i, j) => {
        values++
        if (v[i] !== floatFromBits(parseInt(d.values[j]!, 16))) bad++
      })
      let s = 0
      for (const x of v) s += x
      const name = `seed ${c.seed} shape [${c.shape}] draw ${k + 1}`
      t.equal(bad, 0, `${name}: ${d.idx.length} values bit-exact`)
      // torch sums in float64 pairwise, we sequentially: equal up to float64 rounding.
      t.ok(Math.abs(s - d.sum) <= 1e-9 * Math.max(1, n), `${name}: sum ${s} vs ${d.sum}`)
    })
  }
  t.ok(bigSeeds >= 10, `${bigSeeds} cases with seeds >= 2^32`)
  t.ok(looping >= 2, `${looping} cases where each thread loops`)
  t.ok(values >= 2000, `${values} values compared`)
})
