import { DiffuseError, invalidArgument } from '../../src/errors.js'
import { checkInteger, checkNumber, checkSignal } from '../../src/validate.js'
import { nativeGriffinLim } from '../../src/native/audio.js'
import { StftEngine, resolveStftOptions } from './stft.js'

/**
 * Fast Griffin-Lim (Perraudin, Balazs & Søndergaard 2013) with torchaudio.functional.griffinlim
 * semantics: starting from random (or zero) phases, repeat
 *   x = istft(S·angles);  rebuilt = stft(x);  angles = rebuilt − α·previous;  angles /= |angles| + 1e-16
 * with α = momentum / (1 + momentum) (torchaudio's rescaling), and return istft(S·angles).
 *
 * Three implementations share these semantics: this TypeScript reference (float64), the native CPU
 * addon (float64, frames spread over threads) and CUDA (cuFFT, float32). `griffinLim` picks one by
 * `device`; `griffinLimReference` is always the TypeScript one.
 */
export interface GriffinLimOptions {
  nFft: number
  /** Hop between frames; default floor(win/2) as torchaudio.transforms.GriffinLim. */
  hop?: number
  /** Window length ≤ nFft (periodic Hann); default nFft. */
  win?: number
  /** Iterations (torchaudio's n_iter); default 32. */
  iterations?: number
  /** Fast Griffin-Lim momentum in [0, 1); default 0.99. 0 gives the classic algorithm. */
  momentum?: number
  /** The input is |X|^power; it is raised to 1/power first. Default 1 (magnitude). */
  power?: number
  /** Random initial phases (torchaudio's rand_init, default true) or all phases 0 (false). */
  randInit?: boolean
  /** Seed of the initial phases when randInit is true (default 0). */
  seed?: number
  /** Output length in samples; default as torch.istft with center=true: hop·(frames−1) (+1 for odd nFft). */
  length?: number
  /** 'typescript' | 'cpu' | 'cuda' | 'auto' (default 'auto': CUDA, else native CPU, else TypeScript). */
  device?: 'typescript' | 'cpu' | 'cuda' | 'auto'
  signal?: AbortSignal
}

export interface ResolvedGriffinLim {
  nFft: number
  hop: number
  win: number
  iterations: number
  momentum: number
  power: number
  randInit: boolean
  seed: number
  length: number
  bins: number
  frames: number
  window: Float64Array
}

/** Validates the magnitude and options (DiffuseError('INVALID_ARGUMENT')) and fills defaults. */
export function resolveGriffinLim(magnitude: unknown, opts: GriffinLimOptions): ResolvedGriffinLim {
  if (opts === null || typeof opts !== 'object') throw invalidArgument('options', 'an object with nFft', opts)
  const nFft = checkInteger('nFft', opts.nFft, 2, 1 << 24)
  const win = opts.win === undefined ? nFft : checkInteger('win', opts.win, 1, nFft)
  const hop = opts.hop === undefined ? Math.max(1, Math.floor(win / 2)) : checkInteger('hop', opts.hop, 1, win)
  const iterations = opts.iterations === undefined ? 32 : checkInteger('iterations', opts.iterations, 0, 100_000)
  const momentum = opts.momentum === undefined ? 0.99 : checkNumber('momentum', opts.momentum, 0)
  if (!(momentum < 1)) throw invalidArgument('momentum', 'a number in [0, 1)', momentum)
  const power = opts.power === undefined ? 1 : checkNumber('power', opts.power, Number.MIN_VALUE)
  const randInit = opts.randInit === undefined ? true : opts.randInit
  if (typeof randInit !== 'boolean') throw invalidArgument('randInit', 'a boolean', randInit)
  const seed = opts.seed === undefined ? 0 : checkInteger('seed', opts.seed, 0, 2 ** 32 - 1)
  const bins = Math.floor(nFft / 2) + 1
  if (!(magnitude instanceof Float32Array)) throw invalidArgument('magnitude', 'a Float32Array [bins][frames]', magnitude)
  if (magnitude.length === 0 || magnitude.length % bins !== 0) {
    throw new DiffuseError(
      'INVALID_ARGUMENT',
      `Expected magnitude to hold nFft/2+1 = ${bins} bins × frames values but received length ${magnitude.length}`,
      { details: { argument: 'magnitude', bins } },
    )
  }
  for (let i = 0; i < magnitude.length; i++) {
    const v = magnitude[i]!
    if (!(v >= 0) || v === Infinity) {
      throw new DiffuseError('INVALID_ARGUMENT', `Expected magnitude to hold finite values ≥ 0 but value ${i} is ${v}`, {
        details: { argument: 'magnitude', index: i },
      })
    }
  }
  const frames = magnitude.length / bins
  // torch.istft's length with center=True: nFft + hop·(frames−1) − 2·floor(nFft/2).
  const pad = Math.floor(nFft / 2)
  const defaultLength = nFft - 2 * pad + hop * (frames - 1)
  const length = opts.length === undefined ? defaultLength : checkInteger('length', opts.length, 1, 2 ** 31 - 1)
  // stft(istft(·)) must give back the same frame count, or the iteration has no fixed shape.
  if (length + 2 * pad < nFft || 1 + Math.floor((length + 2 * pad - nFft) / hop) !== frames) {
    throw invalidArgument('length', `a length whose STFT has ${frames} frames (e.g. ${defaultLength})`, opts.length)
  }
  if (Math.floor(nFft / 2) >= length) {
    throw new DiffuseError(
      'INVALID_ARGUMENT',
      `Expected more frames: ${frames} frames make ${length} samples, but reflect padding needs more than nFft/2 = ${Math.floor(nFft / 2)}`,
      { details: { argument: 'magnitude', frames } },
    )
  }
  const { window } = resolveStftOptions({ nFft, hop, win })
  return { nFft, hop, win, iterations, momentum, power, randInit, seed, length, bins, frames, window }
}

/** Uniform [0,1) numbers from a 32-bit seed (mulberry32): initial phases, identical on every device. */
export function initialPhases(r: ResolvedGriffinLim): { re: Float64Array; im: Float64Array } {
  const n = r.bins * r.frames
  const re = new Float64Array(n)
  const im = new Float64Array(n)
  if (!r.randInit) {
    re.fill(1)
    return { re, im }
  }
  let s = r.seed >>> 0
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  // torch.rand with a complex dtype draws real and imaginary parts uniformly in [0, 1).
  for (let i = 0; i < n; i++) {
    re[i] = next()
    im[i] = next()
  }
  return { re, im }
}

/** The TypeScript reference, float64 throughout. Synchronous; prefer griffinLim() for real work. */
export function griffinLimReference(magnitude: Float32Array, opts: GriffinLimOptions): Float32Array {
  const r = resolveGriffinLim(magnitude, opts)
  return Float32Array.from(runReference(magnitude, r, checkSignal('signal', opts.signal)))
}

function runReference(magnitude: Float32Array, r: ResolvedGriffinLim, signal?: AbortSignal): Float64Array {
  const engine = new StftEngine({ nFft: r.nFft, hop: r.hop, win: r.win })
  const { bins, frames, length } = r
  const n = bins * frames
  const s = new Float64Array(n)
  const inv = 1 / r.power
  for (let i = 0; i < n; i++) s[i] = r.power === 1 ? magnitude[i]! : magnitude[i]! ** inv
  const { re: angRe, im: angIm } = initialPhases(r)
  const alpha = r.momentum / (1 + r.momentum)
  const zr = new Float64Array(n)
  const zi = new Float64Array(n)
  const prevRe = new Float64Array(n)
  const prevIm = new Float64Array(n)
  const full = new Float64Array(r.nFft + r.hop * (frames - 1))
  const env = engine.envelope(frames)
  const y = new Float64Array(length)
  for (let it = 0; it < r.iterations; it++) {
    if (signal?.aborted) throw new DiffuseError('ABORTED', 'Griffin-Lim was aborted', { cause: signal.reason })
    for (let i = 0; i < n; i++) {
      zr[i] = s[i]! * angRe[i]!
      zi[i] = s[i]! * angIm[i]!
    }
    engine.overlapAdd(zr, zi, frames, full)
    engine.trim(full, env, length, y)
    engine.analyzePadded(engine.pad(y), frames, zr, zi)
    for (let i = 0; i < n; i++) {
      const rr = zr[i]!
      const ri = zi[i]!
      const ar = rr - alpha * prevRe[i]!
      const ai = ri - alpha * prevIm[i]!
      const d = Math.sqrt(ar * ar + ai * ai) + 1e-16
      angRe[i] = ar / d
      angIm[i] = ai / d
      prevRe[i] = rr
      prevIm[i] = ri
    }
  }
  for (let i = 0; i < n; i++) {
    zr[i] = s[i]! * angRe[i]!
    zi[i] = s[i]! * angIm[i]!
  }
  engine.overlapAdd(zr, zi, frames, full)
  return engine.trim(full, env, length)
}

/**
 * Griffin-Lim phase reconstruction: magnitude [bins][frames] (bins = nFft/2+1) → waveform.
 * Runs in the native addon (CPU threads or CUDA) when available, else in TypeScript.
 */
export async function griffinLim(magnitude: Float32Array, opts: GriffinLimOptions): Promise<Float32Array> {
  const r = resolveGriffinLim(magnitude, opts)
  const signal = checkSignal('signal', opts.signal)
  const device = opts.device ?? 'auto'
  if (device !== 'typescript' && device !== 'cpu' && device !== 'cuda' && device !== 'auto') {
    throw invalidArgument('device', '"typescript", "cpu", "cuda" or "auto"', device)
  }
  if (device !== 'typescript') {
    const out = await nativeGriffinLim(magnitude, r, device, signal)
    if (out) return out
  }
  // Yield once so a caller's progress UI can paint before the synchronous reference runs.
  await new Promise((resolve) => setImmediate(resolve))
  return Float32Array.from(runReference(magnitude, r, signal))
}
