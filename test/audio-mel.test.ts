import { readFileSync } from 'node:fs'
import t from 'tap'
import { applyMel, hzToMel, melFilterbank, melToHz, melToLinear } from '../modalities/audio/mel.js'
import { riffusionMel } from '../modalities/audio/riffusion.js'
import { decodeWav } from '../modalities/audio/wav.js'

const fixtures = new URL('./fixtures/audio/', import.meta.url)
const ref = JSON.parse(readFileSync(new URL('riffusion_reference.json', fixtures), 'utf8')) as {
  frames: number
  maxValue64: number
  melFrames: number[]
  mel64: string
  image64: string
  inverseMel: { frames: number[]; bins: number; values: string }
}
function f64(b64: string): Float64Array {
  const b = Buffer.from(b64, 'base64')
  return new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length))
}
function f32(b64: string): Float32Array {
  const b = Buffer.from(b64, 'base64')
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length))
}

t.test('mel scales: closed-form values and inverses', async (t) => {
  t.ok(Math.abs(hzToMel(700) - 2595 * Math.log10(2)) < 1e-9, 'htk: 700 Hz = 2595·log10(2)')
  t.equal(hzToMel(0), 0)
  t.ok(Math.abs(hzToMel(1000, 'slaney') - 15) < 1e-12, 'slaney: 1 kHz = 15 (linear part ends)')
  t.ok(Math.abs(hzToMel(500, 'slaney') - 7.5) < 1e-12, 'slaney: linear below 1 kHz, 200/3 Hz per mel')
  t.ok(Math.abs(hzToMel(6400, 'slaney') - 42) < 1e-9, 'slaney: 27 mels per factor 6.4 above 1 kHz')
  for (const hz of [0, 55, 440, 1000, 4000, 10000, 22050]) {
    t.ok(Math.abs(melToHz(hzToMel(hz)) - hz) < 1e-7, `htk round trip ${hz}`)
    t.ok(Math.abs(melToHz(hzToMel(hz, 'slaney'), 'slaney') - hz) < 1e-7, `slaney round trip ${hz}`)
  }
})

t.test('htk triangles without norm sum to 1 between the first and last centre (partition of unity)', async (t) => {
  const fb = melFilterbank({ sampleRate: 16000, nFft: 2048, nMels: 40, fMin: 100, fMax: 7000 })
  t.equal(fb.nFreqs, 1025)
  const centreLo = melToHz(hzToMel(100) + (hzToMel(7000) - hzToMel(100)) / 41)
  const centreHi = melToHz(hzToMel(100) + (40 * (hzToMel(7000) - hzToMel(100))) / 41)
  let worst = 0
  let checked = 0
  for (let f = 0; f < fb.nFreqs; f++) {
    const hz = (8000 * f) / 1024
    if (hz < centreLo || hz > centreHi) continue
    checked++
    let sum = 0
    for (let m = 0; m < 40; m++) sum += fb.weights[f * 40 + m]!
    worst = Math.max(worst, Math.abs(sum - 1))
  }
  t.ok(checked > 800, `${checked} bins checked`)
  t.ok(worst < 1e-9, `max |Σ weights − 1| = ${worst}`)
  let outside = 0
  for (let f = 0; f < fb.nFreqs; f++) {
    const hz = (8000 * f) / 1024
    if (hz <= 100 || hz >= 7000) for (let m = 0; m < 40; m++) outside += fb.weights[f * 40 + m]!
  }
  t.equal(outside, 0, 'nothing outside [fMin, fMax]')
})

t.test("slaney area normalisation: each triangle integrates to 1 over Hz", async (t) => {
  const sampleRate = 22050
  const nFft = 1 << 16 // fine resolution so the Riemann sum approximates the area
  const fb = melFilterbank({ sampleRate, nFft, nMels: 64, scale: 'slaney', norm: 'slaney', fMin: 50, fMax: 10000 })
  const df = Math.floor(sampleRate / 2) / (fb.nFreqs - 1)
  for (const m of [0, 10, 32, 63]) {
    let area = 0
    for (let f = 0; f < fb.nFreqs; f++) area += fb.weights[f * 64 + m]! * df
    t.ok(Math.abs(area - 1) < 2e-3, `mel ${m}: area ${area.toFixed(5)}`)
  }
})

t.test("precision 'float32' rounds every step like torchaudio's float32 tensors", async (t) => {
  const o = { sampleRate: 44100, nFft: 17640, nMels: 512, fMin: 0, fMax: 10000 }
  const f64 = melFilterbank(o)
  const f32 = melFilterbank({ ...o, precision: 'float32' })
  let maxDiff = 0
  let representable = true
  for (let i = 0; i < f32.weights.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(f32.weights[i]! - f64.weights[i]!))
    if (Math.fround(f32.weights[i]!) !== f32.weights[i]) representable = false
  }
  t.ok(representable, 'every weight is a float32 value')
  t.ok(maxDiff > 0 && maxDiff < 1e-4, `float32 vs float64 weights differ by at most ${maxDiff.toExponential(2)}`)
  const slaney = melFilterbank({ sampleRate: 16000, nFft: 512, nMels: 40, scale: 'slaney', norm: 'slaney', precision: 'float32' })
  const slaney64 = melFilterbank({ sampleRate: 16000, nFft: 512, nMels: 40, scale: 'slaney', norm: 'slaney' })
  let d = 0
  for (let i = 0; i < slaney.weights.length; i++) d = Math.max(d, Math.abs(slaney.weights[i]! - slaney64.weights[i]!))
  t.ok(d < 1e-5, `slaney float32 close to float64 (${d.toExponential(2)})`)
  t.throws(() => melFilterbank({ ...o, precision: 'float16' as 'float32' }), { code: 'INVALID_ARGUMENT' })
})

t.test('Riffusion mel amplitudes of the recorded WAV match torchaudio (MelScale of |Spectrogram|)', async (t) => {
  const audio = decodeWav(readFileSync(new URL('recording.wav', fixtures)))
  const { mel, frames } = riffusionMel(audio.channels[0]!)
  t.equal(frames, ref.frames)
  const want = f64(ref.mel64)
  // torchaudio ran on int16-valued samples; ours are scaled by 1/32768.
  let worst = 0
  ref.melFrames.forEach((frame, j) => {
    for (let m = 0; m < 512; m++) worst = Math.max(worst, Math.abs(mel[m * frames + frame]! * 32768 - want[j * 512 + m]!) / ref.maxValue64)
  })
  // Riffusion's filterbank is built with torchaudio's float32 rounding (precision 'float32').
  t.ok(worst < 1e-5, `max error ${worst.toExponential(2)} of the maximum`)
})

t.test('melToLinear matches torchaudio InverseMelScale (relu of the min-norm least squares)', async (t) => {
  const fb = melFilterbank({ sampleRate: 44100, nFft: 17640, nMels: 512, fMin: 0, fMax: 10000 })
  const img = new Uint8Array(Buffer.from(ref.image64, 'base64'))
  // riffusion's decode: rows flipped back, (255 − v)/255 → ^4 → ×30e6
  const frames = ref.frames
  const melSpec = new Float32Array(512 * frames)
  for (let row = 0; row < 512; row++) {
    for (let t0 = 0; t0 < frames; t0++) melSpec[(511 - row) * frames + t0] = ((255 - img[row * frames + t0]!) / 255) ** 4 * 30e6
  }
  const lin = melToLinear(fb, melSpec)
  t.equal(lin.length, 8821 * frames)
  const want = f32(ref.inverseMel.values)
  const frame = ref.inverseMel.frames[0]!
  let worst = 0
  let scale = 0
  for (let k = 0; k < ref.inverseMel.bins; k++) {
    worst = Math.max(worst, Math.abs(lin[k * frames + frame]! - want[k]!))
    scale = Math.max(scale, Math.abs(want[k]!))
  }
  t.ok(worst < 1e-4 * scale, `max error ${worst.toExponential(2)} of ${scale.toExponential(2)}`)
})

t.test('mel → linear → mel reproduces a mel spectrogram; nnls never fits worse than lstsq', async (t) => {
  const fb = melFilterbank({ sampleRate: 22050, nFft: 1024, nMels: 80, fMin: 0, fMax: 8000 })
  const frames = 6
  const linear = new Float32Array(fb.nFreqs * frames)
  for (let k = 0; k < fb.nFreqs; k++) for (let j = 0; j < frames; j++) linear[k * frames + j] = Math.abs(Math.sin(k * 0.05 + j)) * Math.exp(-k / 300)
  const mel = applyMel(fb, linear)
  const err = (x: Float32Array): number => {
    const back = applyMel(fb, x)
    let e = 0
    let s = 0
    for (let i = 0; i < mel.length; i++) {
      e += (back[i]! - mel[i]!) ** 2
      s += mel[i]! ** 2
    }
    return Math.sqrt(e / s)
  }
  const l = melToLinear(fb, mel)
  const n = melToLinear(fb, mel, { method: 'nnls', iterations: 200 })
  for (let i = 0; i < l.length; i++) if (l[i]! < 0 || n[i]! < 0) t.fail('negative magnitude')
  t.ok(err(l) < 0.05, `lstsq relative reprojection error ${err(l).toExponential(2)}`)
  t.ok(err(n) <= err(l) + 1e-9, `nnls ${err(n).toExponential(2)} ≤ lstsq ${err(l).toExponential(2)}`)
})

t.test('bad input gives INVALID_ARGUMENT', async (t) => {
  t.throws(() => melFilterbank({ sampleRate: 16000, nFft: 512, nMels: 0 }), { code: 'INVALID_ARGUMENT' })
  t.throws(() => melFilterbank({ sampleRate: 16000, nMels: 40 }), { code: 'INVALID_ARGUMENT' }, 'neither nFft nor nFreqs')
  t.throws(() => melFilterbank({ sampleRate: 16000, nFft: 512, nMels: 40, fMin: 5000, fMax: 4000 }), { code: 'INVALID_ARGUMENT' })
  t.throws(() => melFilterbank({ sampleRate: 16000, nFft: 512, nMels: 40, scale: 'bark' as 'htk' }), { code: 'INVALID_ARGUMENT' })
  t.throws(() => melFilterbank({ sampleRate: 16000, nFft: 512, nMels: 40, norm: 'area' as 'slaney' }), { code: 'INVALID_ARGUMENT' })
  const fb = melFilterbank({ sampleRate: 16000, nFft: 512, nMels: 40 })
  t.throws(() => applyMel(fb, new Float32Array(100)), { code: 'INVALID_ARGUMENT' }, 'not a multiple of nFreqs')
  t.throws(() => melToLinear(fb, new Float32Array(41)), { code: 'INVALID_ARGUMENT' })
  t.throws(() => melToLinear(fb, Float32Array.of(...new Array(40).fill(NaN))), { code: 'INVALID_ARGUMENT' })
  t.throws(() => melToLinear(fb, new Float32Array(40), { method: 'sgd' as 'lstsq' }), { code: 'INVALID_ARGUMENT' })
  t.throws(() => applyMel({} as typeof fb, new Float32Array(257)), { code: 'INVALID_ARGUMENT' })
})
