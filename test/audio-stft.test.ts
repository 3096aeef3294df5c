import t from 'tap'
import { frameCount, hannWindow, istft, magnitude, stft } from '../modalities/audio/stft.js'

/** torch.stft written out directly in float64: reflect pad, centred zero-padded periodic Hann, DFT. */
function referenceFrame(x: ArrayLike<number>, nFft: number, hop: number, win: number, t: number, center = true): { re: Float64Array; im: Float64Array } {
  const n = x.length
  const pad = center ? Math.floor(nFft / 2) : 0
  const left = Math.floor((nFft - win) / 2)
  const bins = Math.floor(nFft / 2) + 1
  const re = new Float64Array(bins)
  const im = new Float64Array(bins)
  for (let k = 0; k < bins; k++) {
    let sr = 0
    let si = 0
    for (let i = 0; i < nFft; i++) {
      if (i < left || i >= left + win) continue
      const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * (i - left)) / win)
      let idx = t * hop + i - pad
      if (idx < 0) idx = -idx
      else if (idx >= n) idx = 2 * n - 2 - idx
      const a = (-2 * Math.PI * ((k * i) % nFft)) / nFft
      sr += x[idx]! * w * Math.cos(a)
      si += x[idx]! * w * Math.sin(a)
    }
    re[k] = sr
    im[k] = si
  }
  return { re, im }
}

function signal(n: number, seed = 1): Float64Array {
  let s = seed
  return Float64Array.from({ length: n }, (_, i) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return Math.sin(i * 0.037) * 0.6 + 0.25 * Math.sin(i * 0.41 + 1) + (s / 4294967296 - 0.5) * 0.2
  })
}

t.test('periodic Hann window as torch.hann_window', async (t) => {
  const w = hannWindow(8)
  t.same(Array.from(w, (v) => +v.toFixed(12)), [0, 0.146446609407, 0.5, 0.853553390593, 1, 0.853553390593, 0.5, 0.146446609407])
  const s = hannWindow(5, false)
  t.same(Array.from(s, (v) => +v.toFixed(12)), [0, 0.5, 1, 0.5, 0])
})

t.test('stft matches a float64 DFT of reflect-padded windowed frames', async (t) => {
  const x = signal(3000)
  for (const [nFft, hop, win] of [
    [512, 128, 512],
    [400, 100, 300],
    [255, 64, 255],
    [1000, 250, 441],
  ] as const) {
    const s = stft(x, { nFft, hop, win })
    t.equal(s.bins, Math.floor(nFft / 2) + 1)
    t.equal(s.frames, 1 + Math.floor(3000 / hop))
    t.equal(frameCount(3000, { nFft, hop, win }), s.frames)
    let err = 0
    let scale = 0
    for (const frame of [0, 1, 7, s.frames - 2, s.frames - 1]) {
      const ref = referenceFrame(x, nFft, hop, win, frame)
      for (let k = 0; k < s.bins; k++) {
        err = Math.max(err, Math.abs(s.re[k * s.frames + frame]! - ref.re[k]!), Math.abs(s.im[k * s.frames + frame]! - ref.im[k]!))
        scale = Math.max(scale, Math.hypot(ref.re[k]!, ref.im[k]!))
      }
    }
    t.ok(err < 1e-6 * scale, `nFft ${nFft} hop ${hop} win ${win}: max error ${err.toExponential(2)} of ${scale.toFixed(1)}`)
  }
})

t.test('center=false frames start at sample 0', async (t) => {
  const x = signal(2000, 5)
  const s = stft(x, { nFft: 256, hop: 100, center: false })
  t.equal(s.frames, 1 + Math.floor((2000 - 256) / 100))
  const ref = referenceFrame(x, 256, 100, 256, 3, false)
  t.ok(Math.abs(s.re[10 * s.frames + 3]! - ref.re[10]!) < 1e-5)
})

t.test('a sine at a bin frequency: |X| = A·Σw/2 in that bin (closed form)', async (t) => {
  const nFft = 1024
  const k0 = 40
  const A = 0.75
  const x = Float64Array.from({ length: 8192 }, (_, i) => A * Math.cos((2 * Math.PI * k0 * i) / nFft))
  const s = stft(x, { nFft, hop: 256 })
  const mag = magnitude(s)
  const t0 = 10 // an interior frame: no padding effects
  // Σ periodic Hann over N = N/2, so the peak is A·N/4; bins k0±1 get half of that, others ~0.
  t.ok(Math.abs(mag[k0 * s.frames + t0]! - (A * nFft) / 4) < 1e-3)
  t.ok(Math.abs(mag[(k0 + 1) * s.frames + t0]! - (A * nFft) / 8) < 1e-3)
  t.ok(mag[(k0 + 5) * s.frames + t0]! < 1e-3)
})

t.test('istft(stft(x)) = x to ~1e-6 for any FFT size, including Riffusion 17640/441/4410', async (t) => {
  for (const [nFft, hop, win, n] of [
    [512, 128, 512, 5000],
    [1024, 256, 1024, 9000],
    [400, 100, 300, 4000],
    [17640, 441, 4410, 30000],
    [1031, 200, 1031, 6000],
  ] as const) {
    const x = Float32Array.from(signal(n, nFft))
    const y = istft(stft(x, { nFft, hop, win }), { nFft, hop, win, length: n })
    let err = 0
    for (let i = 0; i < n; i++) err = Math.max(err, Math.abs(y[i]! - x[i]!))
    t.ok(err < 2e-6, `nFft ${nFft}: round trip error ${err.toExponential(2)}`)
  }
})

t.test('istft without length trims the centre padding as torch.istft (hop·(frames−1) samples)', async (t) => {
  const x = Float32Array.from(signal(1000))
  const s = stft(x, { nFft: 256, hop: 64 })
  const y = istft(s, { nFft: 256, hop: 64 })
  t.equal(y.length, 64 * (s.frames - 1))
  const longer = istft(s, { nFft: 256, hop: 64, length: 1200 })
  t.equal(longer.length, 1200)
  t.equal(longer[1199], 0)
})

t.test('magnitude powers', async (t) => {
  const s = { re: Float32Array.of(3, 0), im: Float32Array.of(4, 2), bins: 1, frames: 2 }
  t.same(Array.from(magnitude(s)), [5, 2])
  t.same(Array.from(magnitude(s, 2)), [25, 4])
})

t.test('bad input gives INVALID_ARGUMENT', async (t) => {
  const x = new Float32Array(1000)
  t.throws(() => stft(x, { nFft: 1 }), { code: 'INVALID_ARGUMENT' })
  t.throws(() => stft(x, { nFft: 256, win: 300 }), { code: 'INVALID_ARGUMENT' })
  t.throws(() => stft(x, { nFft: 256, hop: 0 }), { code: 'INVALID_ARGUMENT' })
  t.throws(() => stft(new Float32Array(100), { nFft: 256 }), { code: 'INVALID_ARGUMENT' }, 'reflect pad longer than the signal')
  t.throws(() => stft(Float32Array.of(1, NaN, 2), { nFft: 2 }), { code: 'INVALID_ARGUMENT' })
  t.throws(() => stft([1, 2, 3] as unknown as Float32Array, { nFft: 2 }), { code: 'INVALID_ARGUMENT' })
  t.throws(() => stft(x, { nFft: 8, window: [1, 2] }), { code: 'INVALID_ARGUMENT' })
  t.throws(() => stft(x, null as unknown as { nFft: number }), { code: 'INVALID_ARGUMENT' })
  const s = stft(x, { nFft: 256, hop: 64 })
  t.throws(() => istft(s, { nFft: 512, hop: 64 }), { code: 'INVALID_ARGUMENT' }, 'bins do not match nFft')
  t.throws(() => istft({ ...s, re: s.re.subarray(1) }, { nFft: 256, hop: 64 }), { code: 'INVALID_ARGUMENT' })
  // NOLA: a 64-sample window every 256 samples leaves gaps.
  const gappy = stft(x, { nFft: 256, hop: 256, win: 64 })
  t.throws(() => istft(gappy, { nFft: 256, hop: 256, win: 64 }), { code: 'INVALID_ARGUMENT', message: /NOLA/ })
})
