import { readFileSync } from 'node:fs'
import t from 'tap'
import { griffinLim, griffinLimReference } from '../modalities/audio/griffin-lim.js'
import { magnitude, stft } from '../modalities/audio/stft.js'
import { decodeWav } from '../modalities/audio/wav.js'
import { nativeAudioStatus } from '../src/native/audio.js'
import { loadAddon } from '../src/native/loader.js'

const fixtures = new URL('./fixtures/audio/', import.meta.url)
const ref = JSON.parse(readFileSync(new URL('riffusion_reference.json', fixtures), 'utf8')) as {
  griffinLim: { nFft: number; hop: number; win: number; iterations: number; momentum: number; length: number; output: string }
}

function spectralConvergence(target: Float32Array, wave: Float32Array, opts: { nFft: number; hop: number; win?: number }): number {
  const m = magnitude(stft(wave, opts))
  let num = 0
  let den = 0
  for (let i = 0; i < target.length; i++) {
    num += (m[i]! - target[i]!) ** 2
    den += target[i]! ** 2
  }
  return Math.sqrt(num / den)
}

t.test('equals torchaudio.functional.griffinlim (float64, rand_init=False) sample by sample', async (t) => {
  const audio = decodeWav(readFileSync(new URL('recording.wav', fixtures)))
  const g = ref.griffinLim
  const seg = Float64Array.from(audio.channels[0]!.subarray(0, g.length))
  const mag = magnitude(stft(seg, { nFft: g.nFft, hop: g.hop, win: g.win }))
  const out = griffinLimReference(mag, { nFft: g.nFft, hop: g.hop, win: g.win, iterations: g.iterations, momentum: g.momentum, randInit: false, length: g.length })
  const b = Buffer.from(g.output, 'base64')
  const want = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length))
  t.equal(out.length, want.length)
  let err = 0
  let peak = 0
  for (let i = 0; i < want.length; i++) {
    err = Math.max(err, Math.abs(out[i]! - want[i]!))
    peak = Math.max(peak, Math.abs(want[i]!))
  }
  t.ok(err < 1e-5 * peak, `max difference ${err.toExponential(2)} (peak ${peak.toFixed(3)})`)
})

t.test('momentum converges faster than classic Griffin-Lim; more iterations fit better', async (t) => {
  const x = Float32Array.from({ length: 12000 }, (_, i) => Math.sin(i * 0.07) * (1 + Math.sin(i * 0.001)) + 0.3 * Math.sin(i * 0.53))
  const o = { nFft: 512, hop: 128 }
  const mag = magnitude(stft(x, o))
  const sc = (iterations: number, momentum: number): number => spectralConvergence(mag, griffinLimReference(mag, { ...o, iterations, momentum, seed: 1 }), o)
  const fast30 = sc(30, 0.99)
  const classic30 = sc(30, 0)
  const fast5 = sc(5, 0.99)
  t.ok(fast30 < classic30, `fast GL ${fast30.toFixed(4)} < classic ${classic30.toFixed(4)} after 30 iterations`)
  t.ok(fast30 < fast5, `30 iterations ${fast30.toFixed(4)} < 5 iterations ${fast5.toFixed(4)}`)
  t.ok(fast30 < 0.1, 'spectral convergence below 0.1')
})

t.test('power=2 takes a power spectrogram; zero iterations is one inverse STFT with the initial phases', async (t) => {
  const x = Float32Array.from({ length: 4000 }, (_, i) => Math.sin(i * 0.2))
  const o = { nFft: 256, hop: 64 }
  const mag = magnitude(stft(x, o))
  const pow = magnitude(stft(x, o), 2)
  const a = griffinLimReference(mag, { ...o, iterations: 3, seed: 2 })
  const b = griffinLimReference(pow, { ...o, iterations: 3, seed: 2, power: 2 })
  let err = 0
  for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i]! - b[i]!))
  t.ok(err < 1e-5, `power 2 = magnitude input (${err.toExponential(2)})`)
  // randInit=false + 0 iterations: istft of the magnitude with zero phase.
  const zero = griffinLimReference(mag, { ...o, iterations: 0, randInit: false })
  t.equal(zero.length, 64 * (mag.length / 129 - 1))
})

t.test('seeded random initial phases are reproducible; different seeds differ', async (t) => {
  const mag = new Float32Array(129 * 20).fill(1)
  const o = { nFft: 256, hop: 64, iterations: 2 }
  const a = griffinLimReference(mag, { ...o, seed: 9 })
  const b = griffinLimReference(mag, { ...o, seed: 9 })
  const c = griffinLimReference(mag, { ...o, seed: 10 })
  t.same(a, b)
  t.not(a[100], c[100])
})

const noNative = nativeAudioStatus().cpu ? false : 'native addon with audio kernels not loaded'
t.test('native CPU Griffin-Lim equals the TypeScript reference (when the addon has it)', { skip: noNative }, async (t) => {
  for (const o of [
    { nFft: 512, hop: 128, win: 512 },
    { nFft: 400, hop: 100, win: 300 },
    { nFft: 1031, hop: 200, win: 1031 },
  ]) {
    const x = Float32Array.from({ length: 6000 }, (_, i) => Math.sin(i * 0.05) * Math.exp(-i / 4000) + 0.2 * Math.sin(i * 0.31))
    const mag = magnitude(stft(x, o))
    const native = await griffinLim(mag, { ...o, iterations: 6, seed: 4, device: 'cpu' })
    const ts = griffinLimReference(mag, { ...o, iterations: 6, seed: 4 })
    let err = 0
    for (let i = 0; i < ts.length; i++) err = Math.max(err, Math.abs(native[i]! - ts[i]!))
    t.ok(err < 1e-6, `nFft ${o.nFft}: max difference ${err.toExponential(2)}`)
  }
})

t.test('an AbortSignal stops the native CPU loop mid-run', { skip: noNative }, async (t) => {
  // 400 iterations take a few seconds; the abort after 20 ms ends the run at the next iteration.
  const o = { nFft: 1024, hop: 256 }
  const mag = new Float32Array(513 * 100).fill(1)
  const ac = new AbortController()
  const run = griffinLim(mag, { ...o, iterations: 400, device: 'cpu', signal: ac.signal })
  setTimeout(() => ac.abort(), 20)
  await t.rejects(run, { code: 'ABORTED' })
  // The addon stays usable after an aborted run.
  const after = await griffinLim(mag.subarray(0, 513 * 20), { ...o, iterations: 1, device: 'cpu', randInit: false })
  t.same(after, griffinLimReference(mag.subarray(0, 513 * 20), { ...o, iterations: 1, randInit: false }))
})

t.test('the raw binding refuses inconsistent sizes with a JS error, never a crash', { skip: noNative }, async (t) => {
  type Fn = (m: unknown, o: unknown, p: unknown, d: unknown, a: unknown, c?: unknown) => unknown
  const gl = (loadAddon() as unknown as { audioGriffinLim: Fn }).audioGriffinLim
  const p = { nFft: 256, hop: 64, win: 256, iterations: 1, momentum: 0.99, power: 1, randInit: true, seed: 0, length: 576, frames: 10 }
  const mag = new Float32Array(129 * 10)
  t.doesNotThrow(() => gl(mag, new Float32Array(576), p, 'cpu', false))
  t.throws(() => gl(new Float32Array(100), new Float32Array(576), p, 'cpu', false), RangeError, 'magnitude too short')
  t.throws(() => gl(mag, new Float32Array(10), p, 'cpu', false), RangeError, 'output too short')
  t.throws(() => gl(mag, new Float32Array(576), { ...p, frames: 11 }, 'cpu', false), RangeError)
  t.throws(() => gl(mag, new Float32Array(576), { ...p, nFft: 2 ** 40 }, 'cpu', false), RangeError)
  t.throws(() => gl(mag, new Float32Array(576), { ...p, hop: 0 }, 'cpu', false), RangeError)
  t.throws(() => gl(mag, new Float32Array(576), { ...p, momentum: NaN }, 'cpu', false), RangeError)
  t.throws(() => gl(mag, new Float32Array(576), { ...p, randInit: 1 }, 'cpu', false), TypeError)
  t.throws(() => gl(mag, new Float32Array(576), p, 'gpu', false), TypeError)
  t.throws(() => gl(new Float64Array(1290), new Float32Array(576), p, 'cpu', false), TypeError)
  t.throws(() => gl(mag, new Float32Array(576), p, 'cpu', false, new Float32Array(1)), TypeError, 'cancel flag must be an Int32Array')
  t.throws(() => gl(mag, new Float32Array(576), null, 'cpu', false), TypeError)
})

t.test("device 'typescript' and the async API agree with the reference", async (t) => {
  const mag = new Float32Array(129 * 12).map((_, i) => 1 + Math.sin(i))
  const o = { nFft: 256, hop: 64, iterations: 3, seed: 3 }
  t.same(await griffinLim(mag, { ...o, device: 'typescript' }), griffinLimReference(mag, o))
})

t.test('bad input gives DiffuseErrors', async (t) => {
  const mag = new Float32Array(129 * 10).fill(1)
  const o = { nFft: 256, hop: 64 }
  t.throws(() => griffinLimReference(new Float32Array(100), o), { code: 'INVALID_ARGUMENT' }, 'not bins × frames')
  t.throws(() => griffinLimReference(Float32Array.of(...mag.subarray(0, 128), -1, ...mag.subarray(129)), o), { code: 'INVALID_ARGUMENT' }, 'negative')
  t.throws(() => griffinLimReference(new Float32Array(129 * 10).fill(NaN), o), { code: 'INVALID_ARGUMENT' }, 'NaN')
  t.throws(() => griffinLimReference(mag, { ...o, momentum: 1 }), { code: 'INVALID_ARGUMENT' })
  t.throws(() => griffinLimReference(mag, { ...o, momentum: -0.1 }), { code: 'INVALID_ARGUMENT' })
  t.throws(() => griffinLimReference(mag, { ...o, iterations: -1 }), { code: 'INVALID_ARGUMENT' })
  t.throws(() => griffinLimReference(mag, { ...o, power: 0 }), { code: 'INVALID_ARGUMENT' })
  t.throws(() => griffinLimReference(mag, { ...o, length: 5000 }), { code: 'INVALID_ARGUMENT' }, 'length with another frame count')
  t.throws(() => griffinLimReference(new Float32Array(129 * 2), o), { code: 'INVALID_ARGUMENT' }, 'too short for reflect padding')
  t.throws(() => griffinLimReference(mag, { ...o, hop: 300 }), { code: 'INVALID_ARGUMENT' }, 'hop > win')
  t.throws(() => griffinLimReference([1, 2] as unknown as Float32Array, o), { code: 'INVALID_ARGUMENT' })
  await t.rejects(griffinLim(mag, { ...o, device: 'tpu' as 'cpu' }), { code: 'INVALID_ARGUMENT' })
  const ac = new AbortController()
  ac.abort()
  await t.rejects(griffinLim(mag, { ...o, device: 'typescript', signal: ac.signal }), { code: 'ABORTED' })
  if (!nativeAudioStatus().cuda) await t.rejects(griffinLim(mag, { ...o, device: 'cuda' }), { code: 'CUDA_UNAVAILABLE' })
})
