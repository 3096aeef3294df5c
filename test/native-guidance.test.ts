import t from 'tap'
import { getKernels, loadAddon, referenceKernels, setNativeThreads, nativeInfo } from '../src/native/index.js'
import type { Kernels } from '../src/native/index.js'

// Independent float64 reference: diffusers' CFG combine and rescale_noise_cfg (arXiv 2305.08891),
// with torch's unbiased std (N − 1) per batch item written out.
function expected(u: Float32Array, c: Float32Array, scale: number, rescale: number, batch: number): { out: Float64Array; mag: Float64Array } {
  const n = u.length
  const len = n / batch
  const out = new Float64Array(n)
  const mag = new Float64Array(n) // magnitude of the terms, for the float32 rounding bound
  for (let i = 0; i < n; i++) {
    out[i] = u[i]! + scale * (c[i]! - u[i]!)
    mag[i] = Math.abs(u[i]!) + Math.abs(scale) * (Math.abs(c[i]!) + Math.abs(u[i]!))
  }
  if (rescale > 0) {
    const std = (a: ArrayLike<number>, s: number): number => {
      let m = 0
      for (let i = s; i < s + len; i++) m += a[i]!
      m /= len
      let v = 0
      for (let i = s; i < s + len; i++) v += (a[i]! - m) ** 2
      return Math.sqrt(v / (len - 1))
    }
    for (let b = 0; b < batch; b++) {
      const sText = std(c, b * len)
      const sCfg = std(out, b * len)
      const f = sCfg > 0 ? rescale * (sText / sCfg) + (1 - rescale) : 1
      for (let i = b * len; i < (b + 1) * len; i++) {
        out[i] = out[i]! * f
        mag[i] = mag[i]! * Math.max(1, Math.abs(f))
      }
    }
  }
  return { out, mag }
}

function randn(n: number, seed: bigint, scale = 1, shift = 0): Float32Array {
  const a = new Float32Array(n)
  referenceKernels.philoxNormal(seed, 0, a)
  for (let i = 0; i < n; i++) a[i] = a[i]! * scale + shift
  return a
}

function worstError(got: Float32Array, e: { out: Float64Array; mag: Float64Array }): number {
  let worst = 0
  for (let i = 0; i < got.length; i++) {
    const err = Math.abs(got[i]! - e.out[i]!) / (e.mag[i]! + 1e-30)
    if (!(err <= worst)) worst = err
  }
  return worst
}

/** Index of the first element whose bits differ, or -1 (t.same is slow on big typed arrays). */
function firstDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return 0
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length)
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length)
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return i
  return -1
}

const addon = loadAddon()
const impls: [string, Kernels][] = [['typescript', referenceKernels]]
if (addon) impls.push(['native cpu', getKernels('cpu')])

for (const [name, k] of impls) {
  t.test(`${name}: guidance combine matches the float64 reference`, async (t) => {
    for (const [n, batch] of [[1, 1], [7, 1], [64, 2], [3 * 1001, 3], [2 * 40_003, 2]] as const) {
      for (const scale of [0, 1, 7.5, -2]) {
        for (const rescale of [0, 0.7, 1]) {
          if (rescale > 0 && n / batch < 2) continue
          const u = randn(n, 1n, 1.3, 0.2)
          const c = randn(n, 2n, 0.9, -0.1)
          const out = new Float32Array(n)
          k.guidanceCombine(u, c, scale, rescale, batch, out)
          const w = worstError(out, expected(u, c, scale, rescale, batch))
          if (!(w < 3e-6)) t.fail(`n ${n} batch ${batch} scale ${scale} rescale ${rescale}: relative error ${w}`)
        }
      }
    }
    t.pass('all shapes, scales and rescales within float32 rounding (3e-6 of the term magnitude)')
  })

  t.test(`${name}: out may alias uncond or cond; a constant item is left unscaled; async equals sync`, async (t) => {
    const n = 2 * 70_001
    const u = randn(n, 3n)
    const c = randn(n, 4n)
    const e = expected(u, c, 5, 0.7, 2)
    const a1 = u.slice()
    k.guidanceCombine(a1, c, 5, 0.7, 2, a1)
    t.ok(worstError(a1, e) < 3e-6, 'out = uncond')
    const a2 = c.slice()
    k.guidanceCombine(u, a2, 5, 0.7, 2, a2)
    t.ok(worstError(a2, e) < 3e-6, 'out = cond')
    const a3 = new Float32Array(n)
    await k.guidanceCombineAsync(u, c, 5, 0.7, 2, a3)
    const a4 = new Float32Array(n)
    k.guidanceCombine(u, c, 5, 0.7, 2, a4)
    t.equal(firstDiff(a3, a4), -1, 'async identical to sync')
    const flat = new Float32Array(8).fill(2)
    const out = new Float32Array(8)
    k.guidanceCombine(flat, flat, 7, 1, 2, out)
    t.same([...out], Array(8).fill(2), 'zero spread: factor 1, not NaN')
  })
}

t.test('native guidance with rescale does not depend on the thread count', { skip: addon ? false : 'native addon not loaded' }, async (t) => {
  const k = getKernels('cpu')
  const before = nativeInfo().threads
  const n = 3 * 100_003
  const u = randn(n, 5n)
  const c = randn(n, 6n)
  const outs: Float32Array[] = []
  for (const th of [1, 2, 7]) {
    setNativeThreads(th)
    const o = new Float32Array(n)
    k.guidanceCombine(u, c, 7.5, 0.7, 3, o)
    outs.push(o)
  }
  setNativeThreads(before)
  t.equal(firstDiff(outs[1]!, outs[0]!), -1)
  t.equal(firstDiff(outs[2]!, outs[0]!), -1)
})
