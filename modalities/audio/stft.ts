import { DiffuseError, invalidArgument } from '../../src/errors.js'
import { checkBoolean, checkInteger } from '../../src/validate.js'
import { fftPlan, MAX_FFT_SIZE, type FftPlan } from './fft.js'

/**
 * Short-time Fourier transform and its inverse with torch.stft / torch.istft semantics:
 * a periodic Hann window of `win` samples zero-padded (centred) to `nFft`, frames every `hop`
 * samples, `center` pads nFft/2 samples on both sides by reflection, onesided output
 * (nFft/2+1 bins), no normalisation. The inverse is a windowed overlap-add divided by the
 * overlap-added squared window, trimmed as torch.istft trims.
 *
 * Spectrogram layout everywhere in this module: `[bins][frames]` (frequency-major, as torch's
 * (freq, time)), so bin k of frame t is at index k·frames + t.
 */
export interface StftOptions {
  /** FFT size (any length ≥ 2: mixed radix or Bluestein). */
  nFft: number
  /** Hop between frames in samples; default floor(nFft/4) as torch.stft. */
  hop?: number
  /** Window length ≤ nFft; default nFft. The window is zero-padded (centred) to nFft. */
  win?: number
  /** Pad nFft/2 samples on both sides so frame t is centred at t·hop; default true. */
  center?: boolean
  /** Padding used when center is true; default 'reflect' (as torch.stft). */
  padMode?: 'reflect' | 'constant'
  /** A custom window of `win` samples instead of the periodic Hann window. */
  window?: ArrayLike<number>
}

/** A complex onesided spectrogram, layout [bins][frames]. */
export interface Spectrogram {
  re: Float32Array
  im: Float32Array
  bins: number
  frames: number
}

/** Periodic (default, as torch.hann_window) or symmetric Hann window. */
export function hannWindow(length: number, periodic = true): Float64Array {
  checkInteger('length', length, 1)
  const w = new Float64Array(length)
  if (length === 1) {
    w[0] = 1
    return w
  }
  const denom = periodic ? length : length - 1
  for (let i = 0; i < length; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / denom)
  return w
}

export interface ResolvedStft {
  nFft: number
  hop: number
  win: number
  center: boolean
  padMode: 'reflect' | 'constant'
  /** The analysis/synthesis window padded to nFft samples. */
  window: Float64Array
}

/** Validates options and fills defaults; throws DiffuseError('INVALID_ARGUMENT'). */
export function resolveStftOptions(opts: StftOptions): ResolvedStft {
  if (opts === null || typeof opts !== 'object') throw invalidArgument('options', 'an object with nFft', opts)
  const nFft = checkInteger('nFft', opts.nFft, 2, MAX_FFT_SIZE)
  const win = opts.win === undefined ? nFft : checkInteger('win', opts.win, 1, nFft)
  const hop = opts.hop === undefined ? Math.max(1, Math.floor(nFft / 4)) : checkInteger('hop', opts.hop, 1)
  const center = opts.center === undefined ? true : checkBoolean('center', opts.center)
  const padMode = opts.padMode ?? 'reflect'
  if (padMode !== 'reflect' && padMode !== 'constant') throw invalidArgument('padMode', '"reflect" or "constant"', padMode)
  let base: ArrayLike<number>
  if (opts.window !== undefined) {
    const w = opts.window
    if (w === null || typeof w !== 'object' || typeof (w as ArrayLike<number>).length !== 'number' || w.length !== win) {
      throw invalidArgument('window', `an array of ${win} numbers (win)`, w)
    }
    for (let i = 0; i < w.length; i++) if (!Number.isFinite(w[i])) throw invalidArgument('window', 'finite numbers', w)
    base = w
  } else {
    base = hannWindow(win)
  }
  const window = new Float64Array(nFft)
  const left = Math.floor((nFft - win) / 2)
  for (let i = 0; i < win; i++) window[left + i] = base[i]!
  return { nFft, hop, win, center, padMode, window }
}

/** Number of frames stft() produces for a signal of `length` samples. */
export function frameCount(length: number, opts: StftOptions): number {
  checkInteger('length', length, 0)
  const r = resolveStftOptions(opts)
  const padded = r.center ? length + 2 * Math.floor(r.nFft / 2) : length
  if (padded < r.nFft) return 0
  return 1 + Math.floor((padded - r.nFft) / r.hop)
}

/**
 * The float64 engine behind stft/istft and Griffin-Lim: plans, window and scratch made once, then
 * many transforms of the same geometry. Two real frames go through one complex FFT
 * (z = a + i·b, then split by conjugate symmetry), which halves the FFT work.
 */
export class StftEngine {
  readonly nFft: number
  readonly hop: number
  readonly bins: number
  readonly center: boolean
  readonly padMode: 'reflect' | 'constant'
  readonly window: Float64Array
  private readonly plan: FftPlan
  private readonly zr: Float64Array
  private readonly zi: Float64Array
  /** First and one-past-last non-zero window sample: only that span is read or written. */
  private readonly lo: number
  private readonly hi: number

  constructor(opts: StftOptions) {
    const r = resolveStftOptions(opts)
    this.nFft = r.nFft
    this.hop = r.hop
    this.center = r.center
    this.padMode = r.padMode
    this.window = r.window
    this.bins = Math.floor(r.nFft / 2) + 1
    this.plan = fftPlan(r.nFft)
    this.zr = new Float64Array(r.nFft)
    this.zi = new Float64Array(r.nFft)
    let lo = 0
    while (lo < r.nFft && r.window[lo] === 0) lo++
    let hi = r.nFft
    while (hi > lo && r.window[hi - 1] === 0) hi--
    this.lo = lo
    this.hi = hi
  }

  /** Frames produced for a signal of `length` samples (0 when too short). */
  frames(length: number): number {
    const padded = this.center ? length + 2 * Math.floor(this.nFft / 2) : length
    if (padded < this.nFft) return 0
    return 1 + Math.floor((padded - this.nFft) / this.hop)
  }

  /** Signal after centre padding (reflect or zeros); throws when reflection is impossible. */
  pad(x: ArrayLike<number>): Float64Array {
    const n = x.length
    if (!this.center) return Float64Array.from(x)
    const p = Math.floor(this.nFft / 2)
    if (this.padMode === 'reflect' && p >= n && p > 0) {
      throw new DiffuseError(
        'INVALID_ARGUMENT',
        `Expected a signal longer than nFft/2 = ${p} samples for reflect padding but received ${n} samples`,
        { details: { argument: 'signal', length: n, nFft: this.nFft } },
      )
    }
    const out = new Float64Array(n + 2 * p)
    for (let i = 0; i < n; i++) out[p + i] = x[i]!
    if (this.padMode === 'reflect') {
      for (let i = 1; i <= p; i++) {
        out[p - i] = x[i]!
        out[p + n - 1 + i] = x[n - 1 - i]!
      }
    }
    return out
  }

  /**
   * Onesided STFT of `x` into re/im ([bins][frames], float64). Returns the frame count.
   * `re`/`im` must hold bins·frames values.
   */
  analyze(x: ArrayLike<number>, re: Float64Array, im: Float64Array): number {
    const padded = this.pad(x)
    const frames = this.frames(x.length)
    if (re.length < this.bins * frames || im.length < this.bins * frames) {
      throw new DiffuseError('INVALID_ARGUMENT', `STFT output needs ${this.bins * frames} values`)
    }
    this.analyzePadded(padded, frames, re, im)
    return frames
  }

  /** analyze() on an already padded signal (Griffin-Lim reuses its own buffers). */
  analyzePadded(padded: Float64Array, frames: number, re: Float64Array, im: Float64Array): void {
    const { nFft: n, hop, window: w, zr, zi, bins, lo, hi } = this
    for (let t = 0; t < frames; t += 2) {
      const two = t + 1 < frames
      const a = t * hop
      const b = a + hop
      zr.fill(0)
      zi.fill(0)
      for (let i = lo; i < hi; i++) {
        zr[i] = padded[a + i]! * w[i]!
        if (two) zi[i] = padded[b + i]! * w[i]!
      }
      this.plan.forward(zr, zi)
      for (let k = 0; k < bins; k++) {
        const j = k === 0 ? 0 : n - k
        const pr = zr[k]!
        const pi = zi[k]!
        const qr = zr[j]!
        const qi = -zi[j]! // conj(Z[n−k])
        re[k * frames + t] = 0.5 * (pr + qr)
        im[k * frames + t] = 0.5 * (pi + qi)
        if (two) {
          // (Z[k] − conj(Z[n−k])) / 2i
          re[k * frames + t + 1] = 0.5 * (pi - qi)
          im[k * frames + t + 1] = -0.5 * (pr - qr)
        }
      }
    }
  }

  /** Sum over frames of the squared window at each padded-signal position (the istft divisor). */
  envelope(frames: number): Float64Array {
    const { nFft: n, hop, window: w } = this
    const env = new Float64Array(n + hop * (frames - 1))
    for (let t = 0; t < frames; t++) for (let i = this.lo; i < this.hi; i++) env[t * hop + i]! += w[i]! * w[i]!
    return env
  }

  /**
   * Overlap-add of the windowed inverse FFT of each frame into `out` (length n + hop·(frames−1),
   * zeroed here); the caller divides by the envelope and trims.
   */
  overlapAdd(re: Float64Array, im: Float64Array, frames: number, out: Float64Array): void {
    const { nFft: n, hop, window: w, zr, zi, bins, lo, hi } = this
    out.fill(0)
    const nyq = n % 2 === 0 ? n / 2 : -1
    for (let t = 0; t < frames; t += 2) {
      const two = t + 1 < frames
      // Z = A + i·B with A, B the Hermitian extensions of frames t and t+1.
      for (let k = 0; k < bins; k++) {
        const ar = re[k * frames + t]!
        const ai = k === 0 || k === nyq ? 0 : im[k * frames + t]!
        const br = two ? re[k * frames + t + 1]! : 0
        const bi = two && k !== 0 && k !== nyq ? im[k * frames + t + 1]! : 0
        zr[k] = ar - bi
        zi[k] = ai + br
        if (k !== 0 && k !== nyq) {
          // bin n−k: conj(A) + i·conj(B)
          zr[n - k] = ar + bi
          zi[n - k] = -ai + br
        }
      }
      this.plan.inverse(zr, zi)
      const a = t * hop
      const b = a + hop
      for (let i = lo; i < hi; i++) {
        out[a + i]! += zr[i]! * w[i]!
        if (two) out[b + i]! += zi[i]! * w[i]!
      }
    }
  }

  /**
   * Inverse STFT as torch.istft: overlap-add, divide by the window envelope, trim the centre
   * padding, then cut or zero-pad to `length` when given.
   */
  synthesize(re: Float64Array, im: Float64Array, frames: number, length?: number, env?: Float64Array): Float64Array {
    const { nFft: n, hop } = this
    const full = n + hop * (frames - 1)
    const y = new Float64Array(full)
    this.overlapAdd(re, im, frames, y)
    const e = env ?? this.envelope(frames)
    return this.trim(y, e, length)
  }

  /** Divides by the envelope within the kept range and trims (shared by synthesize and GL). */
  trim(y: Float64Array, env: Float64Array, length?: number, out?: Float64Array): Float64Array {
    const n = this.nFft
    const full = y.length
    const start = this.center ? Math.floor(n / 2) : 0
    const end = length !== undefined ? Math.min(full, start + length) : this.center ? full - Math.floor(n / 2) : full
    const outLen = length ?? Math.max(0, end - start)
    const result = out ?? new Float64Array(outLen)
    if (out) out.fill(0)
    for (let i = start; i < end; i++) {
      const e = env[i]!
      if (!(e > 1e-11)) {
        throw new DiffuseError(
          'INVALID_ARGUMENT',
          `Inverse STFT impossible: the window overlap-add is zero at sample ${i - start} (hop ${this.hop} too large for window; NOLA fails)`,
          { details: { nFft: n, hop: this.hop } },
        )
      }
      result[i - start] = y[i]! / e
    }
    return result
  }
}

function checkSignalArray(name: string, x: unknown): ArrayLike<number> {
  if (!(x instanceof Float32Array) && !(x instanceof Float64Array)) throw invalidArgument(name, 'a Float32Array or Float64Array', x)
  if (x.length === 0) throw invalidArgument(name, 'a non-empty signal', x)
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) {
      throw new DiffuseError('INVALID_ARGUMENT', `Expected ${name} to hold finite samples but sample ${i} is ${x[i]}`, {
        details: { argument: name, index: i },
      })
    }
  }
  return x
}

/** Onesided complex STFT (torch.stft, return_complex=True). Layout [bins][frames]. */
export function stft(signal: Float32Array | Float64Array, opts: StftOptions): Spectrogram {
  const x = checkSignalArray('signal', signal)
  const engine = new StftEngine(opts)
  const frames = engine.frames(x.length)
  if (frames < 1) {
    throw new DiffuseError('INVALID_ARGUMENT', `Expected a signal of at least nFft = ${engine.nFft} samples (center=false) but received ${x.length}`)
  }
  const re = new Float64Array(engine.bins * frames)
  const im = new Float64Array(engine.bins * frames)
  engine.analyze(x, re, im)
  return { re: Float32Array.from(re), im: Float32Array.from(im), bins: engine.bins, frames }
}

export function checkSpectrogram(name: string, spec: unknown, bins?: number): Spectrogram {
  const s = spec as Spectrogram
  if (s === null || typeof s !== 'object' || !(s.re instanceof Float32Array || (s.re as unknown) instanceof Float64Array)) {
    throw invalidArgument(name, 'a spectrogram {re, im, bins, frames}', spec)
  }
  checkInteger(`${name}.bins`, s.bins, 1)
  checkInteger(`${name}.frames`, s.frames, 1)
  if (bins !== undefined && s.bins !== bins) {
    throw new DiffuseError('INVALID_ARGUMENT', `Expected ${name} to have ${bins} bins (nFft/2+1) but received ${s.bins}`, {
      details: { argument: name },
    })
  }
  if (s.re.length !== s.bins * s.frames || !s.im || s.im.length !== s.bins * s.frames) {
    throw new DiffuseError('INVALID_ARGUMENT', `Expected ${name}.re and .im to hold bins·frames = ${s.bins * s.frames} values`, {
      details: { argument: name },
    })
  }
  return s
}

/** Inverse STFT (torch.istft). `length` trims or zero-pads the output to that many samples. */
export function istft(spec: Spectrogram, opts: StftOptions & { length?: number }): Float32Array {
  const engine = new StftEngine(opts)
  const s = checkSpectrogram('spectrogram', spec, engine.bins)
  const length = opts.length === undefined ? undefined : checkInteger('length', opts.length, 1)
  const y = engine.synthesize(Float64Array.from(s.re), Float64Array.from(s.im), s.frames, length)
  return Float32Array.from(y)
}

/** |X|^power elementwise (power 1: magnitude, 2: power spectrogram). Layout kept. */
export function magnitude(spec: Spectrogram, power = 1): Float32Array {
  const s = checkSpectrogram('spectrogram', spec)
  if (typeof power !== 'number' || !(power > 0) || !Number.isFinite(power)) throw invalidArgument('power', 'a positive number', power)
  const out = new Float32Array(s.re.length)
  for (let i = 0; i < out.length; i++) {
    const m = Math.hypot(s.re[i]!, s.im[i]!)
    out[i] = power === 1 ? m : power === 2 ? s.re[i]! * s.re[i]! + s.im[i]! * s.im[i]! : m ** power
  }
  return out
}
