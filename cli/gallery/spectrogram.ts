import { encode } from 'fast-png'
import { applyMel, magnitude, melFilterbank, stft } from '../../modalities/audio/index.js'

/**
 * A log-mel spectrogram picture of a clip for the gallery: low frequencies at the bottom, loud = bright,
 * 80 dB of range, a perceptual colour ramp. PNG bytes.
 */
export function spectrogramPng(samples: Float32Array, sampleRate: number, options: { nMels?: number; height?: number } = {}): Uint8Array {
  const nFft = 1024
  const hop = 256
  const nMels = options.nMels ?? 96
  const spec = stft(samples, { nFft, hop })
  const mag = magnitude(spec, 2)
  const fb = melFilterbank({ sampleRate, nFft, nMels, scale: 'slaney', norm: 'slaney' })
  const mel = applyMel(fb, mag)
  const frames = spec.frames
  let max = -Infinity
  const db = new Float32Array(mel.length)
  for (let i = 0; i < mel.length; i++) {
    db[i] = 10 * Math.log10(Math.max(mel[i]!, 1e-12))
    if (db[i]! > max) max = db[i]!
  }
  const scale = options.height ? Math.max(1, Math.round(options.height / nMels)) : 2
  const width = frames
  const height = nMels * scale
  const data = new Uint8Array(width * height * 3)
  for (let m = 0; m < nMels; m++) {
    for (let f = 0; f < frames; f++) {
      const v = Math.min(1, Math.max(0, (db[m * frames + f]! - (max - 80)) / 80))
      const [r, g, b] = ramp(v)
      for (let s = 0; s < scale; s++) {
        const y = height - 1 - (m * scale + s)
        const o = (y * width + f) * 3
        data[o] = r
        data[o + 1] = g
        data[o + 2] = b
      }
    }
  }
  return encode({ width, height, data, channels: 3, depth: 8 })
}

/** A dark-blue → magenta → yellow ramp (monotone in lightness, readable in print). */
function ramp(v: number): [number, number, number] {
  const stops: [number, number, number, number][] = [
    [0, 8, 6, 30],
    [0.35, 90, 20, 120],
    [0.65, 210, 60, 80],
    [0.85, 250, 150, 40],
    [1, 252, 250, 180],
  ]
  for (let i = 1; i < stops.length; i++) {
    const [p1, r1, g1, b1] = stops[i]!
    const [p0, r0, g0, b0] = stops[i - 1]!
    if (v <= p1) {
      const t = (v - p0) / (p1 - p0)
      return [Math.round(r0 + t * (r1 - r0)), Math.round(g0 + t * (g1 - g0)), Math.round(b0 + t * (b1 - b0))]
    }
  }
  return [252, 250, 180]
}
