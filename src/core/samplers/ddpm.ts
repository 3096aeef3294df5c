import type { NoiseSchedule } from '../schedules.js'
import { addNoise as forwardProcess } from '../schedules.js'
import { BaseSampler, checkInferenceSteps, fusedUpdate, predictX0, thresholdSample } from './base.js'
import { betaEnd, betaStart, bool, commonKeys, oneOf, registerClassSpec, unsupportedOption, type ClassSpec, type ParseOptions } from './config.js'
import { integerTimesteps } from './spacing.js'
import type { SamplerPlan, StepInput, StepOutput } from './types.js'

/**
 * DDPM ancestral sampling (Ho et al. 2020, eq. 6–7) with diffusers' DDPMScheduler semantics:
 *   x0   from the model output (epsilon / v / sample), clipped or dynamically thresholded
 *   μ    = √ᾱ_prev·β_t/(1−ᾱ_t) · x0 + √α_t·(1−ᾱ_prev)/(1−ᾱ_t) · x_t       (α_t = ᾱ_t/ᾱ_prev, β_t = 1 − α_t)
 *   x_prev = μ + σ_t·z, z drawn only when t > 0, with σ_t² = (1−ᾱ_prev)/(1−ᾱ_t)·β_t ("fixed_small",
 *   clamped at 1e-20), its square root as a log ("fixed_small_log") or β_t ("fixed_large").
 * prev_t is the next entry of the plan (−1 after the last), as diffusers' previous_timestep.
 */
export const DDPM_SPEC: ClassSpec = {
  num_train_timesteps: commonKeys.num_train_timesteps,
  beta_start: betaStart(0.0001),
  beta_end: betaEnd(0.02),
  beta_schedule: commonKeys.beta_schedule,
  trained_betas: commonKeys.trained_betas,
  variance_type: oneOf('fixed_small', ['fixed_small', 'fixed_small_log', 'fixed_large', 'fixed_large_log', 'learned', 'learned_range']),
  clip_sample: bool(true),
  prediction_type: commonKeys.prediction_type,
  thresholding: commonKeys.thresholding,
  dynamic_thresholding_ratio: commonKeys.dynamic_thresholding_ratio,
  clip_sample_range: commonKeys.clip_sample_range,
  sample_max_value: commonKeys.sample_max_value,
  timestep_spacing: commonKeys.timestep_spacing,
  steps_offset: commonKeys.steps_offset,
  rescale_betas_zero_snr: commonKeys.rescale_betas_zero_snr,
}
registerClassSpec('DDPMScheduler', DDPM_SPEC)

export class DDPMScheduler extends BaseSampler {
  readonly order = 1
  readonly schedule: NoiseSchedule

  constructor(config: unknown = {}, options: ParseOptions = {}) {
    super('DDPMScheduler', DDPM_SPEC, config, options)
    const vt = this.cfg<string>('variance_type')
    if (vt === 'learned' || vt === 'learned_range') {
      throw unsupportedOption(this.className, 'variance_type', vt, 'not supported: it needs a model that outputs twice the channels')
    }
    if (vt === 'fixed_large_log') throw unsupportedOption(this.className, 'variance_type', vt, 'not supported (diffusers takes the square root of a log variance there, giving NaN)')
    this.schedule = this.makeSchedule()
  }

  plan(numInferenceSteps: number): SamplerPlan {
    const N = this.cfg<number>('num_train_timesteps')
    const n = checkInferenceSteps(this.className, numInferenceSteps, N)
    const ts = integerTimesteps(this.cfg('timestep_spacing'), N, n, this.cfg('steps_offset'))
    this.checkTimestepRange(ts, N)
    return this.finishPlan({ numInferenceSteps: n, timesteps: Float64Array.from(ts), initNoiseSigma: 1 })
  }

  private alphaProd(t: number): number {
    return t >= 0 ? this.schedule.alphasCumprod[t]! : 1
  }

  /** The noise standard deviation of the step from t to prevT (0 when t = 0). */
  stepStd(t: number, prevT: number): number {
    const a = this.alphaProd(t)
    const aPrev = this.alphaProd(prevT)
    const currentBeta = 1 - a / aPrev
    let variance = ((1 - aPrev) / (1 - a)) * currentBeta
    variance = Math.max(variance, 1e-20)
    const vt = this.cfg<string>('variance_type')
    if (vt === 'fixed_large') return Math.sqrt(currentBeta)
    // fixed_small and fixed_small_log: exp(½·log v) = √v
    return Math.sqrt(variance)
  }

  async step(input: StepInput): Promise<StepOutput> {
    const { n, batch } = this.checkStep(input)
    const { plan, index, sample, kernels } = input
    const t = plan.timesteps[index]!
    const prevT = index + 1 < plan.timesteps.length ? plan.timesteps[index + 1]! : -1
    const a = this.alphaProd(t)
    const aPrev = this.alphaProd(prevT)
    const currentAlpha = a / aPrev
    const currentBeta = 1 - currentAlpha
    const coefX0 = (Math.sqrt(aPrev) * currentBeta) / (1 - a)
    const coefSample = (Math.sqrt(currentAlpha) * (1 - aPrev)) / (1 - a)
    const noise = t > 0 ? input.generator.randn(input.shape) : null
    const std = t > 0 ? this.stepStd(t, prevT) : 0
    const clip = this.config['clip_sample'] === true ? this.cfg<number>('clip_sample_range') : null
    const pt = this.predictionType
    if (this.config['thresholding'] === true) {
      const x0 = await predictX0(kernels, sample, input.modelOutput, batch, pt, Math.sqrt(a), Math.sqrt(1 - a))
      thresholdSample(x0, batch, this.cfg('dynamic_thresholding_ratio'), this.cfg('sample_max_value'))
      const out = new Float32Array(n)
      for (let i = 0; i < n; i++) out[i] = coefX0 * x0[i]! + coefSample * sample[i]! + (noise ? std * noise[i]! : 0)
      return { prevSample: out, predOriginal: x0 }
    }
    const r = await fusedUpdate(
      kernels,
      sample,
      input.modelOutput,
      batch,
      noise,
      { predictionType: pt, alphaProdSqrt: Math.sqrt(a), betaProdSqrt: Math.sqrt(1 - a), clipSample: clip, coefX0, coefEps: 0, coefSample, coefNoise: std },
      true,
    )
    return { prevSample: r.out, predOriginal: r.x0! }
  }

  addNoise(original: Float32Array, noise: Float32Array, index: number, plan: SamplerPlan): Float32Array {
    this.checkPlan(plan)
    this.checkIndex(index, plan)
    return forwardProcess(original, noise, this.alphaProd(plan.timesteps[index]!))
  }
}
