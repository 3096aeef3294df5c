import { DiffuseError, invalidArgument } from '../../src/errors.js'
import { checkInteger, checkNumber } from '../../src/validate.js'
import { griffinLim, type GriffinLimOptions } from './griffin-lim.js'
import { applyMel, melFilterbank, melToLinear, type MelFilterbank, type MelToLinearOptions } from './mel.js'
import { StftEngine } from './stft.js'
import { resample, toMono, type AudioData } from './wav.js'

/**
 * The Riffusion spectrogram-image format, as riffusion-hobby defines it (spectrogram_params.py,
 * spectrogram_converter.py, util/image_util.py):
 *
 *   audio (44.1 kHz) → |STFT| (n_fft 17640, hop 441, Hann window 4410, center/reflect)
 *   → mel (512 htk bins, 0–10 kHz, no norm) → ÷ max → ^0.25 → ×255 → 255 − v → uint8 (truncation)
 *   → rows flipped (low frequencies at the bottom); mono in R=G=B, stereo in G (left) and B (right).
 *
 * And back: image → (255 − v)/255 → ^4 → ×maxValue (30e6, riffusion's default; the scale does not
 * matter) → linear magnitude by the inverse mel → Griffin-Lim (32 iterations, momentum 0.99,
 * random initial phases) → peak-normalised audio. Riffusion's optional pydub post-filters
 * (compression, −12 dBFS gain) are not applied: they are loudness styling, not part of the format.
 */
export const RIFFUSION = Object.freeze({
  sampleRate: 44100,
  nFft: 17640,
  hop: 441,
  win: 4410,
  nMels: 512,
  fMin: 0,
  fMax: 10000,
  scale: 'htk' as const,
  norm: null,
  powerForImage: 0.25,
  griffinLimIterations: 32,
  momentum: 0.99,
  maxValue: 30e6,
})

/** Plain image pixels, row-major, `channels` bytes per pixel (1 gray, 3 RGB, 4 RGBA). */
export interface ImagePixels {
  width: number
  height: number
  channels: number
  data: Uint8Array
}

/** Mel magnitudes per audio channel, each [nMels][frames]. */
export interface MelSpectrogramChannels {
  channels: Float32Array[]
  nMels: number
  frames: number
}

function checkImage(image: unknown): ImagePixels {
  const im = image as ImagePixels
  if (im === null || typeof im !== 'object' || !(im.data instanceof Uint8Array)) {
    throw invalidArgument('image', 'an object {width, height, channels, data: Uint8Array}', image)
  }
  checkInteger('image.width', im.width, 1, 1 << 20)
  checkInteger('image.height', im.height, 1, 1 << 20)
  if (im.channels !== 1 && im.channels !== 3 && im.channels !== 4) throw invalidArgument('image.channels', '1, 3 or 4', im.channels)
  if (im.data.length !== im.width * im.height * im.channels) {
    throw new DiffuseError(
      'INVALID_ARGUMENT',
      `Expected image.data to hold width·height·channels = ${im.width * im.height * im.channels} bytes but received ${im.data.length}`,
      { details: { argument: 'image.data' } },
    )
  }
  return im
}

/**
 * Mel spectrogram(s) → Riffusion image (RGB). One channel gives R=G=B; two give R=0, G=left,
 * B=right. Returns the image and the maximum used for scaling (riffusion stores it in EXIF).
 */
export function spectrogramToImage(mel: MelSpectrogramChannels, opts: { power?: number } = {}): { image: ImagePixels; maxValue: number } {
  if (mel === null || typeof mel !== 'object' || !Array.isArray(mel.channels)) throw invalidArgument('mel', 'an object {channels, nMels, frames}', mel)
  const nMels = checkInteger('mel.nMels', mel.nMels, 1, 1 << 16)
  const frames = checkInteger('mel.frames', mel.frames, 1, 1 << 24)
  const count = mel.channels.length
  if (count !== 1 && count !== 2) throw invalidArgument('mel.channels', 'one (mono) or two (stereo) arrays', mel.channels)
  const power = opts.power === undefined ? RIFFUSION.powerForImage : checkNumber('power', opts.power, Number.MIN_VALUE)
  let max = 0
  for (const ch of mel.channels) {
    if (!(ch instanceof Float32Array) || ch.length !== nMels * frames) throw invalidArgument('mel.channels[i]', `a Float32Array of nMels·frames = ${nMels * frames}`, ch)
    for (let i = 0; i < ch.length; i++) {
      const v = ch[i]!
      if (!(v >= 0) || v === Infinity) throw invalidArgument('mel', 'finite values ≥ 0', v)
      if (v > max) max = v
    }
  }
  if (!(max > 0)) throw new DiffuseError('INVALID_ARGUMENT', 'The spectrogram is silent (all zeros): nothing to scale into an image')
  const width = frames
  const height = nMels
  const data = new Uint8Array(width * height * 3)
  for (let c = 0; c < count; c++) {
    const ch = mel.channels[c]!
    for (let m = 0; m < nMels; m++) {
      const row = nMels - 1 - m // flip: the highest mel bin is the top row
      for (let t = 0; t < frames; t++) {
        // numpy: 255 − (v/max)^p·255, then astype(uint8) truncates toward zero.
        const v = 255 - ((ch[m * frames + t]! / max) ** power) * 255
        const byte = Math.trunc(v)
        const o = (row * width + t) * 3
        if (count === 1) {
          data[o] = byte
          data[o + 1] = byte
          data[o + 2] = byte
        } else {
          data[o + 1 + c] = byte
        }
      }
    }
  }
  return { image: { width, height, channels: 3, data }, maxValue: max }
}

/**
 * Riffusion image → mel magnitudes (riffusion's spectrogram_from_image): mono reads R (or the gray
 * channel), stereo reads G and B. `maxValue` rescales (default 30e6, as riffusion).
 */
export function imageToSpectrogram(image: ImagePixels, opts: { stereo?: boolean; power?: number; maxValue?: number } = {}): MelSpectrogramChannels {
  const im = checkImage(image)
  const stereo = opts.stereo ?? false
  if (typeof stereo !== 'boolean') throw invalidArgument('stereo', 'a boolean', stereo)
  const power = opts.power === undefined ? RIFFUSION.powerForImage : checkNumber('power', opts.power, Number.MIN_VALUE)
  const maxValue = opts.maxValue === undefined ? RIFFUSION.maxValue : checkNumber('maxValue', opts.maxValue, Number.MIN_VALUE)
  if (stereo && im.channels < 3) throw invalidArgument('image.channels', 'RGB(A) for a stereo spectrogram', im.channels)
  const nMels = im.height
  const frames = im.width
  const picks = stereo ? [1, 2] : [0]
  const channels = picks.map((pick) => {
    const out = new Float32Array(nMels * frames)
    const lut = new Float64Array(256)
    for (let b = 0; b < 256; b++) lut[b] = ((255 - b) / 255) ** (1 / power) * maxValue
    for (let row = 0; row < nMels; row++) {
      const m = nMels - 1 - row
      for (let t = 0; t < frames; t++) out[m * frames + t] = lut[im.data[(row * frames + t) * im.channels + (im.channels === 1 ? 0 : pick)]!]!
    }
    return out
  })
  return { channels, nMels, frames }
}

let cachedFilterbank: MelFilterbank | undefined
function riffusionFilterbank(): MelFilterbank {
  cachedFilterbank ??= melFilterbank({
    sampleRate: RIFFUSION.sampleRate,
    nFft: RIFFUSION.nFft,
    nMels: RIFFUSION.nMels,
    fMin: RIFFUSION.fMin,
    fMax: RIFFUSION.fMax,
    scale: RIFFUSION.scale,
    norm: RIFFUSION.norm,
    // Riffusion runs torchaudio, whose filterbank is computed in float32: match its rounding.
    precision: 'float32',
  })
  return cachedFilterbank
}

/** Riffusion's mel amplitudes of one channel: |STFT| → mel, layout [nMels][frames]. */
export function riffusionMel(samples: Float32Array): { mel: Float32Array; frames: number } {
  if (!(samples instanceof Float32Array) || samples.length === 0) throw invalidArgument('samples', 'a non-empty Float32Array', samples)
  const engine = new StftEngine({ nFft: RIFFUSION.nFft, hop: RIFFUSION.hop, win: RIFFUSION.win })
  const frames = engine.frames(samples.length)
  const re = new Float64Array(engine.bins * frames)
  const im = new Float64Array(engine.bins * frames)
  engine.analyze(samples, re, im)
  const mag = new Float64Array(re.length)
  for (let i = 0; i < mag.length; i++) mag[i] = Math.hypot(re[i]!, im[i]!)
  return { mel: applyMel(riffusionFilterbank(), mag), frames }
}

/**
 * Audio → Riffusion spectrogram image. Audio at another rate is resampled to 44.1 kHz first
 * (riffusion requires 44.1 kHz); more channels than wanted are averaged (pydub's set_channels),
 * a mono input for a stereo image is duplicated. The clip must be longer than 8820 samples
 * (0.2 s, reflect padding of n_fft/2).
 */
export function audioToRiffusionImage(audio: AudioData, opts: { stereo?: boolean } = {}): { image: ImagePixels; maxValue: number } {
  const stereo = opts.stereo ?? false
  if (typeof stereo !== 'boolean') throw invalidArgument('stereo', 'a boolean', stereo)
  let a = audio
  if (a === null || typeof a !== 'object' || !Array.isArray(a.channels) || a.channels.length === 0) {
    throw invalidArgument('audio', 'an object {sampleRate, channels: Float32Array[]}', audio)
  }
  checkInteger('audio.sampleRate', a.sampleRate, 1, 10_000_000)
  if (!stereo) a = toMono(a)
  else if (a.channels.length === 1) a = { sampleRate: a.sampleRate, channels: [a.channels[0]!, a.channels[0]!] }
  else if (a.channels.length > 2) {
    const m = toMono(a).channels[0]!
    a = { sampleRate: a.sampleRate, channels: [m, m] }
  }
  const channels = a.channels.map((ch) => (a.sampleRate === RIFFUSION.sampleRate ? ch : resample(ch, a.sampleRate, RIFFUSION.sampleRate)))
  const mels = channels.map((ch) => riffusionMel(ch))
  return spectrogramToImage({ channels: mels.map((m) => m.mel), nMels: RIFFUSION.nMels, frames: mels[0]!.frames })
}

export interface RiffusionToAudioOptions {
  stereo?: boolean
  /** Scale of the decoded spectrogram (riffusion's max_value, default 30e6); audio is peak-normalised anyway. */
  maxValue?: number
  /** Griffin-Lim settings; defaults are riffusion's (32 iterations, momentum 0.99, random init). */
  griffinLim?: Omit<GriffinLimOptions, 'nFft' | 'hop' | 'win' | 'length'>
  /** Inverse mel method (default 'lstsq', torchaudio's InverseMelScale). */
  melInverse?: MelToLinearOptions
  /** Scale the result so its peak is 1 (riffusion normalises to int16 full scale). Default true. */
  normalize?: boolean
}

/** Riffusion spectrogram image → audio at 44.1 kHz (one channel, or two with stereo). */
export async function riffusionImageToAudio(image: ImagePixels, opts: RiffusionToAudioOptions = {}): Promise<AudioData> {
  const mel = imageToSpectrogram(image, { stereo: opts.stereo ?? false, maxValue: opts.maxValue })
  if (mel.frames < 2) throw invalidArgument('image.width', 'at least 2 columns (frames)', image.width)
  if (Math.floor(RIFFUSION.nFft / 2) >= RIFFUSION.hop * (mel.frames - 1)) {
    throw invalidArgument('image.width', `more than ${Math.floor(RIFFUSION.nFft / 2 / RIFFUSION.hop) + 1} columns (Griffin-Lim needs 0.2 s of audio)`, image.width)
  }
  const fb = riffusionFilterbank()
  const normalize = opts.normalize ?? true
  const channels: Float32Array[] = []
  for (const m of mel.channels) {
    const linear = melToLinear(fb, m, opts.melInverse)
    const wave = await griffinLim(linear, {
      iterations: RIFFUSION.griffinLimIterations,
      momentum: RIFFUSION.momentum,
      randInit: true,
      ...opts.griffinLim,
      nFft: RIFFUSION.nFft,
      hop: RIFFUSION.hop,
      win: RIFFUSION.win,
    })
    channels.push(wave)
  }
  if (normalize) {
    let peak = 0
    for (const ch of channels) for (let i = 0; i < ch.length; i++) peak = Math.max(peak, Math.abs(ch[i]!))
    if (peak > 0) for (const ch of channels) for (let i = 0; i < ch.length; i++) ch[i]! /= peak
  }
  return { sampleRate: RIFFUSION.sampleRate, channels }
}
