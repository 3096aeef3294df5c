import t from 'tap'
import { readFileSync } from 'node:fs'
import { torchCpu } from '../src/core/rng/index.js'
import { floatFromBits } from '../src/core/rng/float32.js'

// torch.randn with a CPU generator (torch 2.11 on the GPU machine; training/rng/gpu_check.py,
// sampled by training/rng/gpu_compare.ts): more seeds than ../shared/conformance/rng, seeds of
// 2^32 and above, the scalar (< 16 values) and vectorised paths, and large draws, each case twice
// so the MT19937 state carries over.
interface Draw {
  idx: number[]
  values: string[]
  sum: number
}
interface Fixture {
  torch: string
  cases: { seed: number; shape: number[]; draws: Draw[] }[]
}
const fx = JSON.parse(readFileSync(new URL('./fixtures/rng/cpu_extra.json', import.meta.url), 'utf8')) as Fixture

t.test(`torchCpu matches torch ${fx.torch} torch.randn on CPU for extra seeds and sizes`, async (t) => {
  let values = 0
  let bigSeeds = 0
  for (const c of fx.cases) {
    const g = torchCpu(c.seed)
    const n = c.shape.reduce((a, b) => a * b, 1)
    if (c.seed >= 2 ** 32) bigSeeds++
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
  t.ok(values >= 2000, `${values} values compared`)
})
