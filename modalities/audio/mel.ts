import { DiffuseError, invalidArgument } from '../../src/errors.js'
import { checkInteger, checkNumber } from '../../src/validate.js'

/**
 * Mel filterbanks exactly as torchaudio.functional.melscale_fbanks, applied sparsely (each linear
 * bin feeds at most two triangles), and the inverse mapping mel → linear magnitude.
 */
export type MelScaleType = 'htk' | 'slaney'
export type MelNorm = 'slaney' | null

export interface MelOptions {
  sampleRate: number
  /** FFT size; the filterbank covers nFft/2+1 linear bins (or give nFreqs directly). */
  nFft?: number
  /** Number of linear frequency bins (torchaudio's n_freqs); default nFft/2+1. */
  nFreqs?: number
  nMels: number
  /** Lowest frequency in Hz (default 0). */
  fMin?: number
  /** Highest frequency in Hz (default sampleRate/2). */
  fMax?: number
  /** Mel scale (default 'htk', as torchaudio). */
  scale?: MelScaleType
  /** 'slaney' divides each triangle by its width in Hz (area normalisation); default null. */
  norm?: MelNorm
  /**
   * 'float64' (default): exact arithmetic of the formulas. 'float32': rounds every step to float32
   * as torchaudio does (it builds the filterbank in float32 tensors), for bit-closer agreement
   * with Python pipelines such as Riffusion's.
   */
  precision?: 'float64' | 'float32'
}

/** A dense filterbank in torchaudio's layout [nFreqs][nMels] plus a sparse copy for fast use. */
export interface MelFilterbank {
  nFreqs: number
  nMels: number
  /** Dense weights, layout [nFreqs][nMels] (torchaudio's fb). */
  weights: Float64Array
  /** For each linear bin f: the mel rows it feeds, entries [start[f], start[f+1]) of mel/weight. */
  sparse: { start: Int32Array; mel: Int32Array; weight: Float64Array }
}

export function hzToMel(hz: number, scale: MelScaleType = 'htk'): number {
  if (scale === 'htk') return 2595 * Math.log10(1 + hz / 700)
  const fSp = 200 / 3
  const minLogHz = 1000
  const minLogMel = minLogHz / fSp
  const logStep = Math.log(6.4) / 27
  return hz >= minLogHz ? minLogMel + Math.log(hz / minLogHz) / logStep : hz / fSp
}

export function melToHz(mel: number, scale: MelScaleType = 'htk'): number {
  if (scale === 'htk') return 700 * (10 ** (mel / 2595) - 1)
  const fSp = 200 / 3
  const minLogHz = 1000
  const minLogMel = minLogHz / fSp
  const logStep = Math.log(6.4) / 27
  return mel >= minLogMel ? minLogHz * Math.exp(logStep * (mel - minLogMel)) : fSp * mel
}

/** torchaudio.functional.melscale_fbanks(n_freqs, f_min, f_max, n_mels, sample_rate, norm, mel_scale). */
export function melFilterbank(opts: MelOptions): MelFilterbank {
  if (opts === null || typeof opts !== 'object') throw invalidArgument('options', 'an object', opts)
  const sampleRate = checkInteger('sampleRate', opts.sampleRate, 1, 10_000_000)
  let nFreqs: number
  if (opts.nFreqs !== undefined) nFreqs = checkInteger('nFreqs', opts.nFreqs, 2, 1 << 25)
  else nFreqs = Math.floor(checkInteger('nFft', opts.nFft, 2, 1 << 26) / 2) + 1
  const nMels = checkInteger('nMels', opts.nMels, 1, 10_000)
  const fMin = opts.fMin === undefined ? 0 : checkNumber('fMin', opts.fMin, 0)
  const fMax = opts.fMax === undefined ? sampleRate / 2 : checkNumber('fMax', opts.fMax, 0)
  if (!(fMax > fMin)) throw invalidArgument('fMax', `a number greater than fMin (${fMin})`, fMax)
  const scale = opts.scale ?? 'htk'
  if (scale !== 'htk' && scale !== 'slaney') throw invalidArgument('scale', '"htk" or "slaney"', scale)
  const norm = opts.norm ?? null
  if (norm !== null && norm !== 'slaney') throw invalidArgument('norm', 'null or "slaney"', norm)

  const precision = opts.precision ?? 'float64'
  if (precision !== 'float64' && precision !== 'float32') throw invalidArgument('precision', '"float64" or "float32"', precision)
  // r() rounds each intermediate like a float32 tensor op when emulating torchaudio.
  const r = precision === 'float32' ? Math.fround : (x: number): number => x
  // torch.linspace in float32: start + step·i for the first half, end − step·(steps−1−i) after.
  const linspace = (a: number, b: number, steps: number): Float64Array => {
    if (precision === 'float64') return Float64Array.from({ length: steps }, (_, i) => (steps === 1 ? a : a + ((b - a) * i) / (steps - 1)))
    const step = r((b - a) / (steps - 1))
    const half = Math.floor(steps / 2)
    return Float64Array.from({ length: steps }, (_, i) => (i < half ? r(a + r(step * i)) : r(b - r(step * (steps - i - 1)))))
  }
  // torchaudio: all_freqs = linspace(0, sample_rate // 2, n_freqs)
  const allFreqs = linspace(0, Math.floor(sampleRate / 2), nFreqs)
  const mMin = hzToMel(fMin, scale)
  const mMax = hzToMel(fMax, scale)
  const mPts = linspace(mMin, mMax, nMels + 2)
  const fPts = mPts.map((m) => {
    if (precision === 'float64') return melToHz(m, scale)
    if (scale === 'htk') return r(700 * r(r(10 ** r(m / 2595)) - 1))
    const fSp = 200 / 3
    const minLogMel = 1000 / fSp
    const logStep = Math.log(6.4) / 27
    return m >= minLogMel ? r(1000 * r(Math.exp(r(logStep * r(m - minLogMel))))) : r(fSp * m)
  })

  const weights = new Float64Array(nFreqs * nMels)
  for (let m = 0; m < nMels; m++) {
    const left = fPts[m]!
    const centre = fPts[m + 1]!
    const right = fPts[m + 2]!
    const dDown = r(centre - left)
    const dUp = r(right - centre)
    const enorm = norm === 'slaney' ? r(2 / r(right - left)) : 1
    for (let f = 0; f < nFreqs; f++) {
      const hz = allFreqs[f]!
      const down = r(r(hz - left) / dDown)
      const up = r(r(right - hz) / dUp)
      const w = Math.max(0, Math.min(down, up))
      if (w > 0) weights[f * nMels + m] = r(w * enorm)
    }
  }
  return { nFreqs, nMels, weights, sparse: toSparse(weights, nFreqs, nMels) }
}

function toSparse(weights: Float64Array, nFreqs: number, nMels: number): MelFilterbank['sparse'] {
  const start = new Int32Array(nFreqs + 1)
  let count = 0
  for (let i = 0; i < weights.length; i++) if (weights[i] !== 0) count++
  const mel = new Int32Array(count)
  const weight = new Float64Array(count)
  let j = 0
  for (let f = 0; f < nFreqs; f++) {
    start[f] = j
    for (let m = 0; m < nMels; m++) {
      const w = weights[f * nMels + m]!
      if (w !== 0) {
        mel[j] = m
        weight[j] = w
        j++
      }
    }
  }
  start[nFreqs] = j
  return { start, mel, weight }
}

function checkFilterbank(fb: unknown): MelFilterbank {
  const f = fb as MelFilterbank
  if (f === null || typeof f !== 'object' || !(f.weights instanceof Float64Array) || !f.sparse) {
    throw invalidArgument('filterbank', 'a filterbank from melFilterbank()', fb)
  }
  return f
}

function checkMatrix(name: string, x: unknown, rows: number): { data: ArrayLike<number>; frames: number } {
  if (!(x instanceof Float32Array) && !(x instanceof Float64Array)) throw invalidArgument(name, 'a Float32Array or Float64Array', x)
  if (x.length === 0 || x.length % rows !== 0) {
    throw new DiffuseError('INVALID_ARGUMENT', `Expected ${name} to hold ${rows} rows × frames values but received length ${x.length}`, {
      details: { argument: name, rows },
    })
  }
  return { data: x, frames: x.length / rows }
}

/**
 * Linear spectrogram [nFreqs][frames] → mel spectrogram [nMels][frames] (torchaudio MelScale:
 * fbᵀ · spec).
 */
export function applyMel(fb: MelFilterbank, spec: Float32Array | Float64Array): Float32Array {
  const f = checkFilterbank(fb)
  const { data, frames } = checkMatrix('spectrogram', spec, f.nFreqs)
  const acc = new Float64Array(f.nMels * frames)
  const { start, mel, weight } = f.sparse
  for (let k = 0; k < f.nFreqs; k++) {
    for (let j = start[k]!; j < start[k + 1]!; j++) {
      const m = mel[j]!
      const w = weight[j]!
      const row = m * frames
      const src = k * frames
      for (let t = 0; t < frames; t++) acc[row + t]! += w * data[src + t]!
    }
  }
  return Float32Array.from(acc)
}

export interface MelToLinearOptions {
  /**
   * 'lstsq' (default): minimum-norm least-squares solution clamped at zero — what
   * torchaudio.transforms.InverseMelScale computes since torchaudio 2.1
   * (relu(linalg.lstsq(fbᵀ, mel).solution)).
   * 'nnls': a true non-negative least-squares fit, by projected gradient descent started from the
   * 'lstsq' answer; its mel reprojection error is never larger (a documented improvement).
   */
  method?: 'lstsq' | 'nnls'
  /** Projected-gradient iterations for 'nnls' (default 100). */
  iterations?: number
}

/** Cholesky factor (lower) of a symmetric positive definite n×n matrix, in place. */
function cholesky(a: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j]!
    for (let k = 0; k < j; k++) d -= a[j * n + k]! * a[j * n + k]!
    if (!(d > 0)) throw new DiffuseError('INVALID_ARGUMENT', 'Mel filterbank Gram matrix is not positive definite')
    const l = Math.sqrt(d)
    a[j * n + j] = l
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j]!
      for (let k = 0; k < j; k++) s -= a[i * n + k]! * a[j * n + k]!
      a[i * n + j] = s / l
    }
  }
}

/** fbᵀ·x for x [nFreqs][frames] into out [nMels][frames]. */
function melProject(f: MelFilterbank, x: Float64Array, frames: number, out: Float64Array): void {
  out.fill(0)
  const { start, mel, weight } = f.sparse
  for (let k = 0; k < f.nFreqs; k++) {
    for (let j = start[k]!; j < start[k + 1]!; j++) {
      const row = mel[j]! * frames
      const w = weight[j]!
      const src = k * frames
      for (let t = 0; t < frames; t++) out[row + t]! += w * x[src + t]!
    }
  }
}

/** fb·y for y [nMels][frames] into out [nFreqs][frames]. */
function melBackProject(f: MelFilterbank, y: Float64Array, frames: number, out: Float64Array): void {
  out.fill(0)
  const { start, mel, weight } = f.sparse
  for (let k = 0; k < f.nFreqs; k++) {
    const dst = k * frames
    for (let j = start[k]!; j < start[k + 1]!; j++) {
      const row = mel[j]! * frames
      const w = weight[j]!
      for (let t = 0; t < frames; t++) out[dst + t]! += w * y[row + t]!
    }
  }
}

/**
 * Mel spectrogram [nMels][frames] → linear magnitude [nFreqs][frames] (torchaudio InverseMelScale).
 * The least-squares system is underdetermined (nMels < nFreqs), so the minimum-norm solution
 * x = fb·(fbᵀfb)⁻¹·mel is taken, via a Cholesky factor of the small nMels×nMels Gram matrix. Mel
 * rows whose triangle covers no linear bin (possible for small nFft) get a tiny ridge so the
 * factorisation stays defined; their output contribution is zero either way.
 */
export function melToLinear(fb: MelFilterbank, melSpec: Float32Array | Float64Array, opts: MelToLinearOptions = {}): Float32Array {
  const f = checkFilterbank(fb)
  const { data, frames } = checkMatrix('melSpectrogram', melSpec, f.nMels)
  const method = opts.method ?? 'lstsq'
  if (method !== 'lstsq' && method !== 'nnls') throw invalidArgument('method', '"lstsq" or "nnls"', method)
  const iterations = opts.iterations === undefined ? 100 : checkInteger('iterations', opts.iterations, 0, 100_000)
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw invalidArgument('melSpectrogram', 'finite values', melSpec)
  }
  const nM = f.nMels
  const { start, mel, weight } = f.sparse
  // Gram matrix G = fbᵀ·fb (nMels × nMels), banded: each linear bin couples ≤ 2 adjacent mels.
  const g = new Float64Array(nM * nM)
  for (let k = 0; k < f.nFreqs; k++) {
    for (let a = start[k]!; a < start[k + 1]!; a++) {
      for (let b = start[k]!; b < start[k + 1]!; b++) g[mel[a]! * nM + mel[b]!]! += weight[a]! * weight[b]!
    }
  }
  let trace = 0
  for (let i = 0; i < nM; i++) trace += g[i * nM + i]!
  const ridge = (1e-12 * trace) / nM
  for (let i = 0; i < nM; i++) g[i * nM + i]! += ridge
  cholesky(g, nM)
  // Solve G·Y = mel column by column (all frames at once, row-major [nMels][frames]).
  const y = Float64Array.from(data)
  for (let i = 0; i < nM; i++) {
    for (let k = 0; k < i; k++) {
      const l = g[i * nM + k]!
      if (l === 0) continue
      for (let t = 0; t < frames; t++) y[i * frames + t]! -= l * y[k * frames + t]!
    }
    const d = g[i * nM + i]!
    for (let t = 0; t < frames; t++) y[i * frames + t]! /= d
  }
  for (let i = nM - 1; i >= 0; i--) {
    for (let k = i + 1; k < nM; k++) {
      const l = g[k * nM + i]!
      if (l === 0) continue
      for (let t = 0; t < frames; t++) y[i * frames + t]! -= l * y[k * frames + t]!
    }
    const d = g[i * nM + i]!
    for (let t = 0; t < frames; t++) y[i * frames + t]! /= d
  }
  const x = new Float64Array(f.nFreqs * frames)
  melBackProject(f, y, frames, x)
  for (let i = 0; i < x.length; i++) if (x[i]! < 0) x[i] = 0
  if (method === 'nnls' && iterations > 0) projectedGradient(f, data, frames, x, iterations)
  return Float32Array.from(x)
}

/** Projected gradient on ½‖fbᵀx − mel‖², x ≥ 0, step 1/L with L the Gram matrix's top eigenvalue. */
function projectedGradient(f: MelFilterbank, target: ArrayLike<number>, frames: number, x: Float64Array, iterations: number): void {
  const nM = f.nMels
  // Power iteration for L = λmax(fbᵀfb) on one vector.
  let v = new Float64Array(f.nFreqs).fill(1)
  const mv = new Float64Array(nM)
  let lambda = 1
  for (let it = 0; it < 30; it++) {
    melProject(f, v, 1, mv)
    const w = new Float64Array(f.nFreqs)
    melBackProject(f, mv, 1, w)
    let norm = 0
    for (let i = 0; i < w.length; i++) norm += w[i]! * w[i]!
    norm = Math.sqrt(norm)
    if (norm === 0) return
    lambda = norm / Math.sqrt(v.reduce((s, a) => s + a * a, 0))
    for (let i = 0; i < w.length; i++) w[i]! /= norm
    v = w
  }
  const step = 1 / (lambda * 1.01)
  const r = new Float64Array(nM * frames)
  const grad = new Float64Array(f.nFreqs * frames)
  for (let it = 0; it < iterations; it++) {
    melProject(f, x, frames, r)
    for (let i = 0; i < r.length; i++) r[i]! -= target[i]!
    melBackProject(f, r, frames, grad)
    for (let i = 0; i < x.length; i++) {
      const nx = x[i]! - step * grad[i]!
      x[i] = nx > 0 ? nx : 0
    }
  }
}
