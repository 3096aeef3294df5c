import t from 'tap'
import { philox, createGenerator } from '../src/core/rng/index.js'
import { referenceKernels } from '../src/native/reference.js'
import { getKernels } from '../src/native/loader.js'
import { philox4x32_10 } from '../src/native/philox-math.js'
import type { Kernels } from '../src/native/kernels.js'

t.test('Philox4x32-10 matches the Random123 known-answer vectors', async (t) => {
  // Random123 kat_vectors, philox4x32 with 10 rounds.
  const out = new Uint32Array(4)
  philox4x32_10(0, 0, 0, 0, 0, 0, out)
  t.same(Array.from(out), [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8])
  philox4x32_10(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, out)
  t.same(Array.from(out), [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd])
  philox4x32_10(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, out)
  t.same(Array.from(out), [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1])
})

t.test('consecutive draws equal one big draw: value i depends only on (seed, i)', async (t) => {
  for (const seed of [0, 42, 2 ** 40 + 3, 2 ** 53 - 1]) {
    const whole = new Float32Array(1000)
    referenceKernels.philoxNormal(BigInt(seed), 0, whole)
    const g = philox(seed)
    const parts: number[] = []
    for (const shape of [[1], [3], [2, 5], [16], [1, 4, 8, 8], [7, 9, 3], [203]]) parts.push(...g.randn(shape))
    t.equal(parts.length, 1 + 3 + 10 + 16 + 256 + 189 + 203)
    t.same(parts, Array.from(whole.subarray(0, parts.length)), `seed ${seed}: split draws = one draw`)
    t.same(philox(BigInt(seed)).randn([50]), whole.subarray(0, 50), `seed ${seed}: bigint seed is the same stream`)
  }
})

t.test('the default kernels and the TypeScript reference give the same bits', async (t) => {
  const native = philox(123).randn([4099])
  const ts = philox(123, { kernels: referenceKernels }).randn([4099])
  t.same(native, ts, `default kernels (${getKernels('auto').device}) = TypeScript reference`)
  // Standard normal: mean ≈ 0 and variance ≈ 1 for 4099 values (5 standard errors).
  let s = 0
  let q = 0
  for (const x of ts) {
    s += x
    q += x * x
  }
  t.ok(Math.abs(s / ts.length) < 5 / Math.sqrt(ts.length))
  t.ok(Math.abs(q / ts.length - 1) < 5 * Math.sqrt(2 / ts.length))
})

t.test('kernels passed in are used, with the running offset', async (t) => {
  const calls: [bigint, number, number][] = []
  const spy: Kernels = {
    ...referenceKernels,
    philoxNormal(seed, offset, out) {
      calls.push([seed, offset, out.length])
      referenceKernels.philoxNormal(seed, offset, out)
    },
  }
  const g = createGenerator('philox', 9, { kernels: spy })
  g.randn([4])
  g.randn([2, 3])
  g.fresh().randn([1])
  t.same(calls, [
    [9n, 0, 4],
    [9n, 4, 6],
    [9n, 0, 1],
  ])
  t.throws(() => philox(1, { kernels: {} as Kernels }), { code: 'INVALID_ARGUMENT' })
  for (const bad of [-1n, 2n ** 53n, -1, 0.5, NaN]) t.throws(() => philox(bad), { code: 'INVALID_ARGUMENT' }, String(bad))
})
