import { readFileSync } from 'node:fs'
import t from 'tap'
import { magnitude, stft } from '../modalities/audio/stft.js'
import { audioToRiffusionImage, imageToSpectrogram, RIFFUSION, riffusionImageToAudio, riffusionMel, spectrogramToImage } from '../modalities/audio/riffusion.js'
import { decodeWav, resample } from '../modalities/audio/wav.js'

const fixtures = new URL('./fixtures/audio/', import.meta.url)
const ref = JSON.parse(readFileSync(new URL('riffusion_reference.json', fixtures), 'utf8')) as {
  frames: number
  image64: string
  image32DiffPixels: number
  recipe: Record<string, unknown>
}
const recording = decodeWav(readFileSync(new URL('recording.wav', fixtures)))

t.test('the recipe constants are riffusion-hobby SpectrogramParams', async (t) => {
  t.same(
    { sampleRate: ref.recipe.sampleRate, nFft: ref.recipe.nFft, hop: ref.recipe.hop, win: ref.recipe.win, nMels: ref.recipe.nMels, fMax: ref.recipe.fMax },
    { sampleRate: RIFFUSION.sampleRate, nFft: RIFFUSION.nFft, hop: RIFFUSION.hop, win: RIFFUSION.win, nMels: RIFFUSION.nMels, fMax: RIFFUSION.fMax },
  )
  // 400 ms padded window, 100 ms window, 10 ms step at 44.1 kHz
  t.equal(RIFFUSION.nFft, 0.4 * 44100)
  t.equal(RIFFUSION.win, 0.1 * 44100)
  t.equal(RIFFUSION.hop, 0.01 * 44100)
})

t.test('the Riffusion image of a recorded WAV matches torchaudio computing the same recipe', async (t) => {
  t.equal(recording.sampleRate, 44100)
  const { image, maxValue } = audioToRiffusionImage(recording)
  t.equal(image.width, ref.frames)
  t.equal(image.height, 512)
  t.equal(image.channels, 3)
  t.ok(maxValue > 0)
  const want = new Uint8Array(Buffer.from(ref.image64, 'base64'))
  let differ = 0
  let worst = 0
  let grayOk = true
  for (let i = 0; i < want.length; i++) {
    const r = image.data[i * 3]!
    if (r !== image.data[i * 3 + 1] || r !== image.data[i * 3 + 2]) grayOk = false
    const d = Math.abs(r - want[i]!)
    if (d) differ++
    worst = Math.max(worst, d)
  }
  t.ok(grayOk, 'mono: R = G = B')
  // Only pixels sitting on a uint8 truncation boundary may flip, by one level (torchaudio's own
  // float32 GPU run differs from its float64 run in a few pixels the same way).
  t.ok(worst <= 1, `largest difference ${worst} level(s)`)
  t.ok(differ <= 0.001 * want.length, `${differ} of ${want.length} pixels differ (torchaudio f32 vs f64: ${ref.image32DiffPixels})`)
  // Orientation: the bottom row is the lowest mel bin; the loud 220 Hz tone makes it dark there.
  const rowMean = (row: number): number => {
    let s = 0
    for (let c = 0; c < image.width; c++) s += image.data[(row * image.width + c) * 3]!
    return s / image.width
  }
  // 220 Hz is htk mel 307.6, mel bin ≈ 307.6 / (3073.2 / 513) − 1 ≈ 50, i.e. row 511 − 50.
  t.ok(rowMean(511 - 50) < rowMean(5) - 50, `220 Hz row ${rowMean(511 - 50).toFixed(0)} much darker than the top ${rowMean(5).toFixed(0)}`)
})

t.test('image ↔ spectrogram: exact inverse up to uint8 quantisation; stereo in G and B', async (t) => {
  const nMels = 8
  const frames = 5
  const left = Float32Array.from({ length: nMels * frames }, (_, i) => (i + 1) ** 2)
  const right = Float32Array.from({ length: nMels * frames }, (_, i) => 40 - i)
  const { image, maxValue } = spectrogramToImage({ channels: [left, right], nMels, frames })
  t.equal(maxValue, 1600)
  t.equal(image.data[0], 0, 'R is unused in stereo images')
  // The loudest value (left, top mel bin, last frame) is black in G at the top row.
  t.equal(image.data[(0 * frames + 4) * 3 + 1], 0)
  const back = imageToSpectrogram(image, { stereo: true, maxValue })
  t.equal(back.channels.length, 2)
  for (let i = 0; i < left.length; i++) {
    // value = max·((255 − byte)/255)^4 and byte = trunc(255 − 255·(v/max)^0.25)
    const byteL = Math.trunc(255 - 255 * (left[i]! / 1600) ** 0.25)
    if (Math.abs(back.channels[0]![i]! - 1600 * ((255 - byteL) / 255) ** 4) > 1e-3) t.fail(`left ${i}`)
  }
  t.pass('decoded values follow the closed form')
  const gray = { width: 2, height: 1, channels: 1, data: Uint8Array.of(0, 255) }
  const mono = imageToSpectrogram(gray, { maxValue: 1 })
  t.same(Array.from(mono.channels[0]!), [1, 0])
})

t.test('image → audio (inverse mel + Griffin-Lim) recovers the mel spectrogram of the recording', async (t) => {
  // A 0.6 s excerpt keeps the TypeScript Griffin-Lim quick; 12 iterations.
  const excerpt = recording.channels[0]!.subarray(0, 26460)
  const { image } = audioToRiffusionImage({ sampleRate: 44100, channels: [excerpt] })
  const audio = await riffusionImageToAudio(image, { griffinLim: { iterations: 12, seed: 1 } })
  t.equal(audio.sampleRate, 44100)
  t.equal(audio.channels.length, 1)
  const wave = audio.channels[0]!
  t.equal(wave.length, RIFFUSION.hop * (image.width - 1))
  let peak = 0
  for (const v of wave) peak = Math.max(peak, Math.abs(v))
  t.ok(Math.abs(peak - 1) < 1e-6, 'peak-normalised')
  const original = riffusionMel(excerpt)
  const rebuilt = riffusionMel(wave)
  // Compare log-mel shapes (scale-free): correlation of log(1e-3·max + mel).
  const logs = (m: Float32Array): Float64Array => {
    let mx = 0
    for (const v of m) mx = Math.max(mx, v)
    return Float64Array.from(m, (v) => Math.log(v + 1e-3 * mx))
  }
  const a = logs(original.mel)
  const b = logs(rebuilt.mel)
  const n = Math.min(a.length, b.length)
  let ma = 0
  let mb = 0
  for (let i = 0; i < n; i++) {
    ma += a[i]! / n
    mb += b[i]! / n
  }
  let sab = 0
  let saa = 0
  let sbb = 0
  for (let i = 0; i < n; i++) {
    sab += (a[i]! - ma) * (b[i]! - mb)
    saa += (a[i]! - ma) ** 2
    sbb += (b[i]! - mb) ** 2
  }
  const corr = sab / Math.sqrt(saa * sbb)
  t.ok(corr > 0.9, `log-mel correlation ${corr.toFixed(3)}`)
})

t.test('other sample rates are resampled to 44.1 kHz; stereo input is mixed to mono', async (t) => {
  const tone = Float32Array.from({ length: 22050 }, (_, i) => Math.sin((2 * Math.PI * 440 * i) / 22050))
  const { image } = audioToRiffusionImage({ sampleRate: 22050, channels: [tone, tone] })
  t.equal(image.width, 1 + Math.floor(resample(tone, 22050, 44100).length / 441))
  const stereo = audioToRiffusionImage({ sampleRate: 22050, channels: [tone, tone] }, { stereo: true })
  t.equal(stereo.image.data[0], 0)
  t.equal(stereo.image.data[1], stereo.image.data[2], 'identical channels → identical G and B')
})

t.test('riffusionMel equals |STFT| → mel computed step by step', async (t) => {
  const x = recording.channels[0]!.subarray(10000, 30000)
  const m = riffusionMel(x)
  const mag = magnitude(stft(x, { nFft: 17640, hop: 441, win: 4410 }))
  t.equal(mag.length, 8821 * m.frames)
})

t.test('bad input gives INVALID_ARGUMENT', async (t) => {
  const good = { width: 100, height: 512, channels: 3, data: new Uint8Array(100 * 512 * 3) }
  t.throws(() => imageToSpectrogram({ ...good, data: new Uint8Array(10) }), { code: 'INVALID_ARGUMENT' })
  t.throws(() => imageToSpectrogram({ ...good, channels: 2 }), { code: 'INVALID_ARGUMENT' })
  t.throws(() => imageToSpectrogram(null as unknown as typeof good), { code: 'INVALID_ARGUMENT' })
  t.throws(() => imageToSpectrogram({ ...good, channels: 1, data: new Uint8Array(100 * 512) }, { stereo: true }), { code: 'INVALID_ARGUMENT' })
  await t.rejects(riffusionImageToAudio({ ...good, width: 10, data: new Uint8Array(10 * 512 * 3) }), { code: 'INVALID_ARGUMENT' }, 'too few columns')
  t.throws(() => spectrogramToImage({ channels: [new Float32Array(4)], nMels: 2, frames: 2 }), { code: 'INVALID_ARGUMENT' }, 'silent')
  t.throws(() => spectrogramToImage({ channels: [new Float32Array(4), new Float32Array(4), new Float32Array(4)], nMels: 2, frames: 2 }), {
    code: 'INVALID_ARGUMENT',
  })
  t.throws(() => spectrogramToImage({ channels: [Float32Array.of(1, -1, 0, 0)], nMels: 2, frames: 2 }), { code: 'INVALID_ARGUMENT' })
  t.throws(() => audioToRiffusionImage({ sampleRate: 44100, channels: [new Float32Array(1000)] }), { code: 'INVALID_ARGUMENT' }, 'too short for reflect padding')
  t.throws(() => audioToRiffusionImage({ sampleRate: 0, channels: [new Float32Array(20000)] }), { code: 'INVALID_ARGUMENT' })
})
