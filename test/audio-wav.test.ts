import { mkdtempSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { rfft } from '../modalities/audio/fft.js'
import { decodeWav, encodeWav, readWav, resample, resampleAudio, toMono, writeWav } from '../modalities/audio/wav.js'

/** Builds a WAV file by hand (independent of both the encoder and the decoder under test). */
function makeWav(opts: { format: number; channels: number; rate: number; bits: number; data: Uint8Array; extensible?: number; fmtFirst?: boolean; extraChunk?: boolean }): Uint8Array {
  const blockAlign = opts.channels * (opts.bits / 8)
  const fmtSize = opts.extensible !== undefined ? 40 : 16
  const fmt = new Uint8Array(8 + fmtSize)
  const fv = new DataView(fmt.buffer)
  fmt.set([0x66, 0x6d, 0x74, 0x20]) // "fmt "
  fv.setUint32(4, fmtSize, true)
  fv.setUint16(8, opts.extensible !== undefined ? 0xfffe : opts.format, true)
  fv.setUint16(10, opts.channels, true)
  fv.setUint32(12, opts.rate, true)
  fv.setUint32(16, opts.rate * blockAlign, true)
  fv.setUint16(20, blockAlign, true)
  fv.setUint16(22, opts.bits, true)
  if (opts.extensible !== undefined) {
    fv.setUint16(24, 22, true)
    fv.setUint16(26, opts.bits, true)
    fv.setUint32(28, 0, true)
    fv.setUint16(32, opts.extensible, true)
    fmt.set([0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71], 34)
  }
  const list = opts.extraChunk ? Uint8Array.of(0x4c, 0x49, 0x53, 0x54, 3, 0, 0, 0, 1, 2, 3, 0) : new Uint8Array(0) // odd size + pad byte
  const data = new Uint8Array(8 + opts.data.length)
  data.set([0x64, 0x61, 0x74, 0x61])
  new DataView(data.buffer).setUint32(4, opts.data.length, true)
  data.set(opts.data, 8)
  const parts = opts.fmtFirst === false ? [list, data, fmt] : [fmt, list, data]
  const body = parts.reduce((n, p) => n + p.length, 0)
  const out = new Uint8Array(12 + body)
  const ov = new DataView(out.buffer)
  out.set([0x52, 0x49, 0x46, 0x46])
  ov.setUint32(4, 4 + body, true)
  out.set([0x57, 0x41, 0x56, 0x45], 8)
  let o = 12
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

t.test('decodes PCM 8/16/24/32-bit, float 32/64 and WAVE_FORMAT_EXTENSIBLE to the exact values', async (t) => {
  const u8 = decodeWav(makeWav({ format: 1, channels: 1, rate: 8000, bits: 8, data: Uint8Array.of(0, 128, 255) }))
  t.same(Array.from(u8.channels[0]!), [-1, 0, 127 / 128])
  const i16 = new DataView(new ArrayBuffer(6))
  i16.setInt16(0, -32768, true)
  i16.setInt16(2, 16384, true)
  i16.setInt16(4, 32767, true)
  const s16 = decodeWav(makeWav({ format: 1, channels: 1, rate: 16000, bits: 16, data: new Uint8Array(i16.buffer) }))
  t.same(Array.from(s16.channels[0]!), [-1, 0.5, 32767 / 32768])
  t.equal(s16.sampleRate, 16000)
  // 24-bit: -8388608, 4194304 (0.5), little-endian 3 bytes
  const s24 = decodeWav(makeWav({ format: 1, channels: 1, rate: 48000, bits: 24, data: Uint8Array.of(0x00, 0x00, 0x80, 0x00, 0x00, 0x40) }))
  t.same(Array.from(s24.channels[0]!), [-1, 0.5])
  const i32 = new DataView(new ArrayBuffer(8))
  i32.setInt32(0, -1073741824, true)
  i32.setInt32(4, 2147483647, true)
  const s32 = decodeWav(makeWav({ format: 1, channels: 1, rate: 44100, bits: 32, data: new Uint8Array(i32.buffer) }))
  t.same(Array.from(s32.channels[0]!), [-0.5, Math.fround(2147483647 / 2147483648)])
  const f32 = new Float32Array([0.25, -0.75, 1.5, 0])
  const stereo = decodeWav(makeWav({ format: 3, channels: 2, rate: 22050, bits: 32, data: new Uint8Array(f32.buffer) }))
  t.same(Array.from(stereo.channels[0]!), [0.25, 1.5])
  t.same(Array.from(stereo.channels[1]!), [-0.75, 0])
  const f64 = new Float64Array([0.125, -0.5, 0.25])
  const three = decodeWav(makeWav({ format: 3, channels: 3, rate: 96000, bits: 64, data: new Uint8Array(f64.buffer) }))
  t.same(three.channels.map((c) => c[0]), [0.125, -0.5, 0.25])
  const ext = decodeWav(makeWav({ format: 1, channels: 1, rate: 16000, bits: 16, extensible: 1, data: new Uint8Array(i16.buffer), extraChunk: true }))
  t.same(Array.from(ext.channels[0]!), [-1, 0.5, 32767 / 32768], 'EXTENSIBLE PCM, after an odd-sized LIST chunk')
  const extF = decodeWav(makeWav({ format: 3, channels: 2, rate: 22050, bits: 32, extensible: 3, data: new Uint8Array(f32.buffer) }))
  t.same(Array.from(extF.channels[1]!), [-0.75, 0])
})

t.test('the committed recording (made by sox) reads as 44.1 kHz mono 16-bit', async (t) => {
  const a = await readWav(new URL('./fixtures/audio/recording.wav', import.meta.url).pathname)
  t.equal(a.sampleRate, 44100)
  t.equal(a.channels.length, 1)
  t.equal(a.channels[0]!.length, 52920)
  let peak = 0
  for (const v of a.channels[0]!) peak = Math.max(peak, Math.abs(v))
  t.ok(peak > 0.8 && peak <= 1, `peak ${peak} (normalised to −1 dBFS by sox)`)
})

t.test('encodeWav (wav-encoder) round trips: 16-bit within two steps, float32 exactly', async (t) => {
  const n = 1000
  const left = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.01) * 0.9)
  const right = Float32Array.from({ length: n }, (_, i) => Math.cos(i * 0.02) * 0.5)
  const audio = { sampleRate: 24000, channels: [left, right] }
  const pcm = decodeWav(encodeWav(audio))
  t.equal(pcm.sampleRate, 24000)
  let err = 0
  for (let i = 0; i < n; i++) err = Math.max(err, Math.abs(pcm.channels[0]![i]! - left[i]!), Math.abs(pcm.channels[1]![i]! - right[i]!))
  // wav-encoder scales positive samples by 32767, readers (ours, soundfile, torchaudio) divide by 32768.
  t.ok(err <= 2 / 32768, `16-bit error ${err}`)
  const flt = decodeWav(encodeWav(audio, { format: 'float32' }))
  t.same(flt.channels, [left, right])
  const clipped = decodeWav(encodeWav({ sampleRate: 8000, channels: [Float32Array.of(2, -2)] }))
  t.same(Array.from(clipped.channels[0]!), [32767 / 32768, -1], 'out-of-range samples clip')
})

t.test('writeWav writes atomically and never leaves a partial file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dk-wav-'))
  const path = join(dir, 'out.wav')
  const audio = { sampleRate: 8000, channels: [Float32Array.of(0, 0.5, -0.5)] }
  await writeWav(path, audio)
  t.same(Array.from((await readWav(path)).channels[0]!), Array.from(decodeWav(encodeWav(audio)).channels[0]!))
  // A failing save (target is a directory) keeps what was there and leaves no temporary file.
  const blocked = join(dir, 'blocked.wav')
  mkdirSync(blocked)
  writeFileSync(join(blocked, 'keep.txt'), 'x')
  await t.rejects(writeWav(blocked, audio), { code: 'IO' })
  t.same(readdirSync(blocked), ['keep.txt'])
  t.same(readdirSync(dir).sort(), ['blocked.wav', 'out.wav'])
  // A bad argument fails before anything is written.
  await t.rejects(writeWav(join(dir, 'nan.wav'), { sampleRate: 8000, channels: [Float32Array.of(NaN)] }), { code: 'INVALID_ARGUMENT' })
  t.same(readdirSync(dir).sort(), ['blocked.wav', 'out.wav'])
  await t.rejects(writeWav(join(dir, 'missing', 'x.wav'), audio), { code: 'IO' })
})

t.test('malformed, truncated and unsupported files give FILE_FORMAT (missing: FILE_NOT_FOUND)', async (t) => {
  const pcm = new Uint8Array(8)
  const good = makeWav({ format: 1, channels: 1, rate: 8000, bits: 16, data: pcm })
  t.ok(decodeWav(good))
  t.throws(() => decodeWav(good.subarray(0, 8)), { code: 'FILE_FORMAT' }, 'shorter than a header')
  t.throws(() => decodeWav(good.subarray(0, good.length - 3)), { code: 'FILE_FORMAT', message: /truncated/ })
  t.throws(() => decodeWav(good.subarray(0, 30)), { code: 'FILE_FORMAT' }, 'cut inside the fmt chunk')
  const wrong = good.slice()
  wrong.set([0x52, 0x49, 0x46, 0x58]) // RIFX
  t.throws(() => decodeWav(wrong), { code: 'FILE_FORMAT', message: /RIFX/ })
  const notWave = good.slice()
  notWave.set([0x41, 0x56, 0x49, 0x20], 8) // "AVI "
  t.throws(() => decodeWav(notWave), { code: 'FILE_FORMAT' })
  t.throws(() => decodeWav(new TextEncoder().encode('ID3 this is an mp3, honest')), { code: 'FILE_FORMAT' })
  t.throws(() => decodeWav(makeWav({ format: 6, channels: 1, rate: 8000, bits: 8, data: pcm })), { code: 'FILE_FORMAT', message: /A-law/ })
  t.throws(() => decodeWav(makeWav({ format: 7, channels: 1, rate: 8000, bits: 8, data: pcm })), { code: 'FILE_FORMAT', message: /µ-law/ })
  t.throws(() => decodeWav(makeWav({ format: 2, channels: 1, rate: 8000, bits: 4, data: pcm })), { code: 'FILE_FORMAT', message: /ADPCM/ })
  t.throws(() => decodeWav(makeWav({ format: 1, channels: 1, rate: 8000, bits: 12, data: pcm })), { code: 'FILE_FORMAT', message: /12-bit/ })
  t.throws(() => decodeWav(makeWav({ format: 3, channels: 1, rate: 8000, bits: 16, data: pcm })), { code: 'FILE_FORMAT' }, '16-bit float')
  t.throws(() => decodeWav(makeWav({ format: 1, channels: 1, rate: 0, bits: 16, data: pcm })), { code: 'FILE_FORMAT', message: /sample rate/ })
  t.throws(() => decodeWav(makeWav({ format: 1, channels: 1, rate: 4_000_000_000, bits: 16, data: pcm })), { code: 'FILE_FORMAT' })
  t.throws(() => decodeWav(makeWav({ format: 1, channels: 0, rate: 8000, bits: 16, data: pcm })), { code: 'FILE_FORMAT' })
  t.throws(() => decodeWav(makeWav({ format: 1, channels: 1000, rate: 8000, bits: 16, data: new Uint8Array(2000) })), { code: 'FILE_FORMAT' })
  t.throws(() => decodeWav(makeWav({ format: 1, channels: 1, rate: 8000, bits: 16, data: new Uint8Array(0) })), { code: 'FILE_FORMAT' }, 'no samples')
  t.throws(() => decodeWav(makeWav({ format: 1, channels: 2, rate: 8000, bits: 16, data: new Uint8Array(6) })), { code: 'FILE_FORMAT' }, 'partial frame')
  t.throws(() => decodeWav(makeWav({ format: 1, channels: 1, rate: 8000, bits: 16, data: pcm, fmtFirst: false })), { code: 'FILE_FORMAT', message: /before/ })
  const absurd = good.slice()
  new DataView(absurd.buffer).setUint32(40, 0xfffffff0, true) // data size far beyond the file
  t.throws(() => decodeWav(absurd), { code: 'FILE_FORMAT', message: /declares/ })
  const badExt = makeWav({ format: 1, channels: 1, rate: 8000, bits: 16, extensible: 1, data: pcm })
  badExt[12 + 8 + 30] = 0x11 // corrupt the sub-format GUID
  t.throws(() => decodeWav(badExt), { code: 'FILE_FORMAT', message: /GUID/ })
  t.throws(() => decodeWav('abc' as unknown as Uint8Array), { code: 'INVALID_ARGUMENT' })
  await t.rejects(readWav('/nonexistent/dir/none.wav'), { code: 'FILE_NOT_FOUND' })
  const dir = mkdtempSync(join(tmpdir(), 'dk-wav-'))
  writeFileSync(join(dir, 'trunc.wav'), good.subarray(0, good.length - 1))
  await t.rejects(readWav(join(dir, 'trunc.wav')), { code: 'FILE_FORMAT', message: /trunc\.wav/ })
})

/** Frequency (parabolic interpolation of the FFT peak) and amplitude of a windowed sine. */
function analyseTone(x: Float32Array, rate: number): { freq: number; amp: number } {
  const n = x.length
  const w = Float64Array.from({ length: n }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n))
  const X = rfft(Float64Array.from(x, (v, i) => v * w[i]!))
  const mag = Array.from(X.re, (r, k) => Math.hypot(r, X.im[k]!))
  let k = 1
  for (let i = 1; i < mag.length - 1; i++) if (mag[i]! > mag[k]!) k = i
  const [a, b, c] = [Math.log(mag[k - 1]!), Math.log(mag[k]!), Math.log(mag[k + 1]!)]
  const delta = (0.5 * (a - c)) / (a - 2 * b + c)
  let peak = 0
  for (let i = Math.floor(n / 4); i < Math.floor((3 * n) / 4); i++) peak = Math.max(peak, Math.abs(x[i]!))
  return { freq: ((k + delta) * rate) / n, amp: peak }
}

t.test('resampling keeps a sine’s frequency and amplitude (22.05k→44.1k, 48k→16k, 44.1k→48k, 16k→44.1k)', async (t) => {
  for (const [from, to, hz] of [
    [22050, 44100, 1000],
    [48000, 16000, 3000],
    [44100, 48000, 440],
    [16000, 44100, 5000],
    [44100, 22050, 9000],
  ] as const) {
    const x = Float32Array.from({ length: from }, (_, i) => 0.8 * Math.sin((2 * Math.PI * hz * i) / from))
    const y = resample(x, from, to)
    t.equal(y.length, Math.ceil((x.length * to) / from))
    const { freq, amp } = analyseTone(y, to)
    t.ok(Math.abs(freq - hz) < 0.05, `${from}→${to}: ${freq.toFixed(3)} Hz (want ${hz})`)
    t.ok(Math.abs(amp - 0.8) < 0.002, `${from}→${to}: amplitude ${amp.toFixed(5)} (want 0.8)`)
  }
})

t.test('downsampling removes content above the new Nyquist frequency', async (t) => {
  const from = 48000
  const x = Float32Array.from({ length: from }, (_, i) => Math.sin((2 * Math.PI * 12000 * i) / from)) // above 8 kHz
  const y = resample(x, from, 16000)
  let peak = 0
  for (let i = 2000; i < y.length - 2000; i++) peak = Math.max(peak, Math.abs(y[i]!))
  t.ok(peak < 1e-3, `aliased residue ${peak.toExponential(2)}`)
})

t.test('toMono averages; resampleAudio resamples every channel; bad arguments', async (t) => {
  const m = toMono({ sampleRate: 8000, channels: [Float32Array.of(1, 0), Float32Array.of(0, 1)] })
  t.same(Array.from(m.channels[0]!), [0.5, 0.5])
  const r = resampleAudio({ sampleRate: 8000, channels: [new Float32Array(800), new Float32Array(800)] }, 16000)
  t.equal(r.channels.length, 2)
  t.equal(r.channels[1]!.length, 1600)
  t.throws(() => resample(new Float32Array(10), 0, 16000), { code: 'INVALID_ARGUMENT' })
  t.throws(() => resample(new Float32Array(10), 16000, 2.5), { code: 'INVALID_ARGUMENT' })
  t.throws(() => resample([1] as unknown as Float32Array, 8000, 16000), { code: 'INVALID_ARGUMENT' })
  t.throws(() => encodeWav({ sampleRate: 8000, channels: [new Float32Array(2), new Float32Array(3)] }), { code: 'INVALID_ARGUMENT' })
  t.throws(() => encodeWav({ sampleRate: 8000, channels: [] }), { code: 'INVALID_ARGUMENT' })
  t.throws(() => encodeWav({ sampleRate: 8000, channels: [new Float32Array(2)] }, { format: 'pcm24' as 'pcm16' }), { code: 'INVALID_ARGUMENT' })
  t.same(readFileSync(new URL('./fixtures/audio/recording.wav', import.meta.url)).subarray(0, 4).toString(), 'RIFF')
})
