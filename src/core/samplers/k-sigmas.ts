import type { NoiseSchedule } from '../schedules.js'
import { trainingSigmas } from '../schedules.js'
import { exponentialSigmas, karrasSigmas, npInterpIndex, sigmaToT } from './numeric.js'

/**
 * Noise-level tables of the k-diffusion style samplers (σ = √((1−ᾱ)/ᾱ), x_σ = x0 + σ·ε), computed as
 * diffusers' set_timesteps does: the training sigmas interpolated at the (possibly fractional) plan
 * timesteps, or replaced by a Karras (ρ = 7) or exponential ladder whose timesteps are mapped back by
 * log-sigma interpolation (`_sigma_to_t`).
 */

export type SigmaLadder = 'default' | 'karras' | 'exponential'

export function ladderOf(config: Readonly<Record<string, unknown>>): SigmaLadder {
  if (config['use_karras_sigmas'] === true) return 'karras'
  if (config['use_exponential_sigmas'] === true) return 'exponential'
  return 'default'
}

/** float32 log of the float32 training sigmas (numpy keeps the float32 dtype). */
export function logSigmasF32(sigmas: ArrayLike<number>): Float64Array {
  return Float64Array.from(sigmas as ArrayLike<number>, (s) => Math.fround(Math.log(s)))
}

export interface KSigmaTable {
  /** timesteps handed to the model, before any dtype cast */
  timesteps: number[]
  /** sigmas in float64 (the caller casts them to float32 as diffusers does), without the final one */
  sigmas: number[]
}

/**
 * Sigmas for the given descending plan timesteps. `sigmaMin`/`sigmaMax` (config, may be null) bound a
 * Karras or exponential ladder; otherwise its ends are the interpolated sigmas' ends.
 */
export function kSigmaTable(
  schedule: NoiseSchedule,
  timesteps: number[],
  ladder: SigmaLadder,
  opts: { zeroSnrFix?: boolean; sigmaMin?: number | null; sigmaMax?: number | null; logLinear?: boolean } = {},
): KSigmaTable {
  const train = trainingSigmas(schedule.alphasCumprod, opts.zeroSnrFix === true)
  const logSigmas = logSigmasF32(train)
  const n = timesteps.length
  let sigmas: number[]
  if (opts.logLinear) {
    // torch.linspace(log σ_max, log σ_min, n + 1).exp() in float32, as diffusers' "log_linear"
    // interpolation (n + 1 values: the last step ends at σ_min)
    const hi = Math.log(train[train.length - 1]!)
    const lo = Math.log(train[0]!)
    sigmas = []
    for (let i = 0; i <= n; i++) sigmas.push(Math.fround(Math.exp(Math.fround(hi + ((lo - hi) * i) / n))))
  } else {
    sigmas = timesteps.map((t) => npInterpIndex(t, train))
  }
  if (ladder === 'default') return { timesteps, sigmas }
  const sMin = opts.sigmaMin ?? Math.fround(sigmas[sigmas.length - 1]!)
  const sMax = opts.sigmaMax ?? Math.fround(sigmas[0]!)
  const ladderSigmas = ladder === 'karras' ? karrasSigmas(sMin, sMax, n) : exponentialSigmas(sMin, sMax, n)
  return { timesteps: ladderSigmas.map((s) => sigmaToT(s, logSigmas)), sigmas: ladderSigmas }
}

/** diffusers' init_noise_sigma of the Euler family: σ_max, or √(σ_max² + 1) for "leading" spacing. */
export function kInitNoiseSigma(sigmas: ArrayLike<number>, spacing: string): number {
  let max = -Infinity
  for (let i = 0; i < sigmas.length; i++) max = Math.max(max, sigmas[i]!)
  if (spacing === 'linspace' || spacing === 'trailing') return max
  return Math.fround(Math.sqrt(Math.fround(Math.fround(max * max) + 1)))
}
