import t from 'tap'
import { griffinLim, griffinLimReference } from '../../modalities/audio/griffin-lim.js'
import { magnitude, stft } from '../../modalities/audio/stft.js'
import { nativeAudioStatus } from '../../src/native/audio.js'

const status = nativeAudioStatus()
const skip = status.cuda ? false : `CUDA Griffin-Lim unavailable: ${status.cudaError}`

function signal(n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.05) * Math.exp(-i / 20000) + 0.2 * Math.sin(i * 0.31) + 0.05 * Math.sin(i * 1.7))
}

function spectralConvergence(target: Float32Array, wave: Float32Array, o: { nFft: number; hop: number; win?: number }): number {
  const m = magnitude(stft(wave, o))
  let num = 0
  let den = 0
  for (let i = 0; i < target.length; i++) {
    num += (m[i]! - target[i]!) ** 2
    den += target[i]! ** 2
  }
  return Math.sqrt(num / den)
}

t.test('CUDA Griffin-Lim (float32, cuFFT) follows the float64 reference', { skip }, async (t) => {
  for (const o of [
    { nFft: 1024, hop: 256, win: 1024 },
    { nFft: 17640, hop: 441, win: 4410 },
    { nFft: 1031, hop: 200, win: 1031 },
  ]) {
    const mag = magnitude(stft(signal(40000), o))
    // Zero initial phase and few iterations keep the comparison free of chaotic divergence.
    const cuda = await griffinLim(mag, { ...o, iterations: 4, randInit: false, device: 'cuda' })
    const ref = griffinLimReference(mag, { ...o, iterations: 4, randInit: false })
    let err = 0
    let peak = 0
    for (let i = 0; i < ref.length; i++) {
      err = Math.max(err, Math.abs(cuda[i]! - ref[i]!))
      peak = Math.max(peak, Math.abs(ref[i]!))
    }
    t.equal(cuda.length, ref.length)
    t.ok(err < 1e-3 * peak, `nFft ${o.nFft}: max difference ${err.toExponential(2)} (peak ${peak.toFixed(3)})`)
  }
})

t.test('CUDA Griffin-Lim with random phases converges like the CPU one', { skip }, async (t) => {
  const o = { nFft: 1024, hop: 256 }
  const mag = magnitude(stft(signal(60000), o))
  const cuda = await griffinLim(mag, { ...o, iterations: 50, seed: 3, device: 'cuda' })
  const cpu = await griffinLim(mag, { ...o, iterations: 50, seed: 3, device: 'cpu' })
  const a = spectralConvergence(mag, cuda, o)
  const b = spectralConvergence(mag, cpu, o)
  t.ok(Math.abs(a - b) < 0.02, `spectral convergence CUDA ${a.toFixed(4)} vs CPU ${b.toFixed(4)}`)
  t.ok(a < 0.15)
})

t.test("device 'auto' picks CUDA when it is available", { skip }, async (t) => {
  const o = { nFft: 512, hop: 128 }
  const mag = magnitude(stft(signal(8000), o))
  const auto = await griffinLim(mag, { ...o, iterations: 2, randInit: false })
  const cuda = await griffinLim(mag, { ...o, iterations: 2, randInit: false, device: 'cuda' })
  t.same(auto, cuda)
})
