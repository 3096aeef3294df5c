import t from 'tap'
import { fft, fftPlan, factorize, ifft, irfft, rfft } from '../modalities/audio/fft.js'

/** Float64 O(n²) DFT with exact (k·t mod n) angles: the independent reference. */
function naiveDft(re: Float64Array, im: Float64Array, bins?: number[]): { re: Float64Array; im: Float64Array } {
  const n = re.length
  const ks = bins ?? Array.from({ length: n }, (_, k) => k)
  const outRe = new Float64Array(n)
  const outIm = new Float64Array(n)
  for (const k of ks) {
    let sr = 0
    let si = 0
    for (let j = 0; j < n; j++) {
      const a = (-2 * Math.PI * ((k * j) % n)) / n
      const c = Math.cos(a)
      const s = Math.sin(a)
      sr += re[j]! * c - im[j]! * s
      si += re[j]! * s + im[j]! * c
    }
    outRe[k] = sr
    outIm[k] = si
  }
  return { re: outRe, im: outIm }
}

function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 4294967296 - 0.5
  }
}

t.test('matches a float64 DFT for mixed-radix, prime (Bluestein) and power-of-two sizes', async (t) => {
  const r = rng(1)
  for (const n of [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 16, 17, 25, 30, 49, 60, 64, 97, 120, 210, 256, 441, 1000, 1024, 1031]) {
    const re = Float64Array.from({ length: n }, r)
    const im = Float64Array.from({ length: n }, r)
    const got = fft(re, im)
    const want = naiveDft(re, im)
    let err = 0
    let scale = 0
    for (let k = 0; k < n; k++) {
      err = Math.max(err, Math.hypot(got.re[k]! - want.re[k]!, got.im[k]! - want.im[k]!))
      scale = Math.max(scale, Math.hypot(want.re[k]!, want.im[k]!))
    }
    t.ok(err <= 1e-12 * Math.max(1, scale), `n=${n}: max error ${err.toExponential(2)} (scale ${scale.toFixed(2)})`)
  }
})

t.test("Riffusion's n_fft 17640 = 2^3·3^2·5·7^2 runs mixed radix and matches the DFT on sampled bins", async (t) => {
  t.same(factorize(17640).sort((a, b) => a - b), [2, 3, 3, 4, 5, 7, 7])
  const n = 17640
  const r = rng(2)
  const re = Float64Array.from({ length: n }, r)
  const im = Float64Array.from({ length: n }, r)
  const got = fft(re, im)
  const bins = [0, 1, 2, 441, 4410, 8820, 8821, 12345, 17639]
  const want = naiveDft(re, im, bins)
  for (const k of bins) {
    t.ok(Math.hypot(got.re[k]! - want.re[k]!, got.im[k]! - want.im[k]!) < 1e-9, `bin ${k}`)
  }
})

t.test('a pure tone lands in one bin with amplitude N/2 (closed form)', async (t) => {
  for (const n of [64, 1000, 17640, 1031]) {
    const k0 = 7
    const x = Float64Array.from({ length: n }, (_, j) => Math.cos((2 * Math.PI * k0 * j) / n))
    const X = fft(x)
    for (let k = 0; k < n; k++) {
      const mag = Math.hypot(X.re[k]!, X.im[k]!)
      const want = k === k0 || k === n - k0 ? n / 2 : 0
      if (Math.abs(mag - want) > 1e-8 * n) {
        t.fail(`n=${n} bin ${k}: |X| = ${mag}, expected ${want}`)
        return
      }
    }
    t.pass(`n=${n}: only bins ${k0} and ${n - k0} carry N/2`)
  }
})

t.test("Parseval: Σ|x|² = Σ|X|²/N, and ifft(fft(x)) = x", async (t) => {
  const r = rng(3)
  for (const n of [128, 360, 17640, 4099]) {
    const re = Float64Array.from({ length: n }, r)
    const im = Float64Array.from({ length: n }, r)
    const X = fft(re, im)
    let ex = 0
    let eX = 0
    for (let k = 0; k < n; k++) {
      ex += re[k]! ** 2 + im[k]! ** 2
      eX += X.re[k]! ** 2 + X.im[k]! ** 2
    }
    t.ok(Math.abs(ex - eX / n) < 1e-10 * ex, `n=${n} Parseval`)
    const back = ifft(X.re, X.im)
    let err = 0
    for (let k = 0; k < n; k++) err = Math.max(err, Math.abs(back.re[k]! - re[k]!), Math.abs(back.im[k]! - im[k]!))
    t.ok(err < 1e-12, `n=${n} round trip error ${err.toExponential(2)}`)
  }
})

t.test('rfft/irfft: onesided bins and inverse for even and odd lengths', async (t) => {
  const r = rng(4)
  for (const n of [16, 17, 400, 441]) {
    const x = Float64Array.from({ length: n }, r)
    const half = rfft(x)
    t.equal(half.re.length, Math.floor(n / 2) + 1)
    const full = naiveDft(x, new Float64Array(n))
    for (let k = 0; k < half.re.length; k++) {
      if (Math.abs(half.re[k]! - full.re[k]!) > 1e-12 || Math.abs(half.im[k]! - full.im[k]!) > 1e-12) {
        t.fail(`n=${n} bin ${k}`)
        return
      }
    }
    const back = irfft(half.re, half.im, n)
    let err = 0
    for (let i = 0; i < n; i++) err = Math.max(err, Math.abs(back[i]! - x[i]!))
    t.ok(err < 1e-12, `n=${n} irfft error ${err.toExponential(2)}`)
  }
})

t.test('plans are reused and out-of-place transforms leave the input alone', async (t) => {
  t.equal(fftPlan(360), fftPlan(360))
  const plan = fftPlan(12)
  const re = Float64Array.from({ length: 12 }, (_, i) => i)
  const im = new Float64Array(12)
  const oRe = new Float64Array(12)
  const oIm = new Float64Array(12)
  plan.forward(re, im, oRe, oIm)
  t.equal(re[5], 5)
  t.equal(oRe[0], 66)
})

t.test('bad input gives INVALID_ARGUMENT', async (t) => {
  t.throws(() => fftPlan(0), { code: 'INVALID_ARGUMENT' })
  t.throws(() => fftPlan(2.5), { code: 'INVALID_ARGUMENT' })
  t.throws(() => fftPlan(2 ** 30), { code: 'INVALID_ARGUMENT' })
  t.throws(() => fft([1, 2, 3], [1, 2]), { code: 'INVALID_ARGUMENT' })
  t.throws(() => ifft([1, 2], [1]), { code: 'INVALID_ARGUMENT' })
  t.throws(() => irfft([1, 2], [0, 0], 8), { code: 'INVALID_ARGUMENT' })
  t.throws(() => fftPlan(8).forward(new Float64Array(4), new Float64Array(4)), { code: 'INVALID_ARGUMENT' })
})
