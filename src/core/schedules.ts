import { DiffuseError } from '../errors.js'
import { checkFloat32Array } from '../validate.js'
import { torchLinspaceF32 } from './samplers/numeric.js'

/**
 * Training noise schedules with diffusers' semantics. diffusers builds them as float32 torch tensors;
 * every value here is the float32 number torch produces (stored in a Float64Array so later scalar math
 * runs in double precision, as diffusers' own scalar code mostly does after `.item()`).
 */

export type BetaSchedule = 'linear' | 'scaled_linear' | 'squaredcos_cap_v2' | 'exp'
export const BETA_SCHEDULES: readonly BetaSchedule[] = ['linear', 'scaled_linear', 'squaredcos_cap_v2', 'exp']

export interface BetaOptions {
  numTrainTimesteps: number
  betaStart: number
  betaEnd: number
  betaSchedule: BetaSchedule
  /** explicit betas; bypass the schedule (diffusers `trained_betas`) */
  trainedBetas?: readonly number[] | null
  /** Lin et al. 2023 (arXiv 2305.08891) Algorithm 1: rescale to zero terminal SNR */
  rescaleBetasZeroSnr?: boolean
}

/**
 * diffusers' `betas_for_alpha_bar`: betas that discretise ᾱ(t) = cos²((t + 0.008)/1.008 · π/2)
 * ("squaredcos_cap_v2", Nichol & Dhariwal 2021) or exp(−12t) ("exp"), each capped at maxBeta.
 * Computed in double precision, then stored as float32 (as torch.tensor(..., float32) does).
 */
export function betasForAlphaBar(n: number, maxBeta = 0.999, transform: 'cosine' | 'exp' = 'cosine'): Float64Array {
  const alphaBar = transform === 'cosine' ? (t: number) => Math.cos(((t + 0.008) / 1.008) * Math.PI / 2) ** 2 : (t: number) => Math.exp(t * -12.0)
  const out = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    const t1 = i / n
    const t2 = (i + 1) / n
    out[i] = Math.fround(Math.min(1 - alphaBar(t2) / alphaBar(t1), maxBeta))
  }
  return out
}

/**
 * Zero terminal SNR (arXiv 2305.08891, Algorithm 1): shift √ᾱ so its last value is 0, scale so its
 * first value is unchanged, and convert back to betas. The last beta becomes 1.
 */
export function rescaleZeroTerminalSnr(betas: ArrayLike<number>): Float64Array {
  const n = betas.length
  const f = Math.fround
  const sqrtBar = new Float64Array(n)
  let prod = 1
  for (let i = 0; i < n; i++) {
    prod *= f(1 - betas[i]!)
    sqrtBar[i] = f(Math.sqrt(f(prod)))
  }
  const first = sqrtBar[0]!
  const last = sqrtBar[n - 1]!
  const scale = f(first / f(first - last))
  const bar = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    const s = f(f(sqrtBar[i]! - last) * scale)
    bar[i] = f(s * s)
  }
  const out = new Float64Array(n)
  out[0] = f(1 - bar[0]!)
  for (let i = 1; i < n; i++) out[i] = f(1 - f(bar[i]! / bar[i - 1]!))
  return out
}

/** The betas diffusers' scheduler __init__ builds from these options. */
export function makeBetas(o: BetaOptions): Float64Array {
  let betas: Float64Array
  if (o.trainedBetas !== undefined && o.trainedBetas !== null) {
    betas = Float64Array.from(o.trainedBetas, (b) => Math.fround(b))
  } else if (o.betaSchedule === 'linear') {
    betas = torchLinspaceF32(o.betaStart, o.betaEnd, o.numTrainTimesteps)
  } else if (o.betaSchedule === 'scaled_linear') {
    // sqrt of the endpoints in double, a float32 linspace, then squared in float32
    betas = torchLinspaceF32(Math.sqrt(o.betaStart), Math.sqrt(o.betaEnd), o.numTrainTimesteps).map((b) => Math.fround(b * b))
  } else if (o.betaSchedule === 'squaredcos_cap_v2') {
    betas = betasForAlphaBar(o.numTrainTimesteps, 0.999, 'cosine')
  } else if (o.betaSchedule === 'exp') {
    betas = betasForAlphaBar(o.numTrainTimesteps, 0.999, 'exp')
  } else {
    throw new DiffuseError('INVALID_CONFIG', `Unknown beta_schedule ${JSON.stringify(o.betaSchedule)}: expected one of ${BETA_SCHEDULES.join(', ')}`)
  }
  if (o.rescaleBetasZeroSnr) betas = rescaleZeroTerminalSnr(betas)
  return betas
}

/**
 * ᾱ_t = Π_{s ≤ t} (1 − β_s). torch.cumprod on the CPU accumulates float32 inputs in double and rounds
 * each output to float32; so does this.
 */
export function alphasCumprod(betas: ArrayLike<number>): Float64Array {
  const out = new Float64Array(betas.length)
  let prod = 1
  for (let i = 0; i < betas.length; i++) {
    prod *= Math.fround(1 - betas[i]!)
    out[i] = Math.fround(prod)
  }
  return out
}

/** A training noise schedule: betas and ᾱ (float32 values), immutable by convention. */
export interface NoiseSchedule {
  readonly numTrainTimesteps: number
  readonly betas: Float64Array
  readonly alphasCumprod: Float64Array
}

export function createNoiseSchedule(o: BetaOptions): NoiseSchedule {
  const betas = makeBetas(o)
  return { numTrainTimesteps: betas.length, betas, alphasCumprod: alphasCumprod(betas) }
}

/**
 * The training sigmas √((1 − ᾱ)/ᾱ) as float32 values (k-diffusion's σ of the VP schedule), increasing
 * with t. As in diffusers' Euler-family __init__, `zeroSnrFix` replaces a terminal ᾱ of 0 by 2^-24 so the
 * largest sigma stays finite.
 */
export function trainingSigmas(alphasCumprodValues: ArrayLike<number>, zeroSnrFix = false): Float64Array {
  const f = Math.fround
  const n = alphasCumprodValues.length
  const out = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    let a = alphasCumprodValues[i]!
    if (zeroSnrFix && i === n - 1) a = 2 ** -24
    out[i] = f(Math.sqrt(f(f(1 - a) / a)))
  }
  return out
}

/**
 * The closed-form forward process q(x_t | x_0): √ᾱ·x0 + √(1 − ᾱ)·noise, for one ᾱ value.
 * Returns a new array; the inputs are not modified.
 */
export function addNoise(original: Float32Array, noise: Float32Array, alphaProd: number): Float32Array {
  checkFloat32Array('original', original)
  checkFloat32Array('noise', noise, original.length)
  if (typeof alphaProd !== 'number' || !(alphaProd >= 0 && alphaProd <= 1)) {
    throw new DiffuseError('INVALID_ARGUMENT', `Expected alphaProd to be a number in [0, 1] but received ${String(alphaProd)}`)
  }
  const a = Math.fround(Math.sqrt(alphaProd))
  const b = Math.fround(Math.sqrt(Math.fround(1 - alphaProd)))
  const out = new Float32Array(original.length)
  for (let i = 0; i < out.length; i++) out[i] = a * original[i]! + b * noise[i]!
  return out
}

/** addNoise at integer training timestep t of a schedule. */
export function addNoiseAt(schedule: NoiseSchedule, original: Float32Array, noise: Float32Array, t: number): Float32Array {
  if (!Number.isInteger(t) || t < 0 || t >= schedule.numTrainTimesteps) {
    throw new DiffuseError('INVALID_ARGUMENT', `Expected t to be an integer in [0, ${schedule.numTrainTimesteps - 1}] but received ${String(t)}`)
  }
  return addNoise(original, noise, schedule.alphasCumprod[t]!)
}

/** x + σ·noise: the forward process of variance-exploding (k-diffusion style) samplers. */
export function addNoiseSigma(original: Float32Array, noise: Float32Array, sigma: number): Float32Array {
  checkFloat32Array('original', original)
  checkFloat32Array('noise', noise, original.length)
  const s = Math.fround(sigma)
  const out = new Float32Array(original.length)
  for (let i = 0; i < out.length; i++) out[i] = original[i]! + s * noise[i]!
  return out
}
