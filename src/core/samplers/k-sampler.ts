import { addNoiseSigma, type NoiseSchedule } from '../schedules.js'
import { BaseSampler, checkInferenceSteps, scaled } from './base.js'
import { checkOneSigmaSpacing, unsupportedOption, type ClassSpec, type ParseOptions } from './config.js'
import { floatTimesteps } from './spacing.js'
import type { SamplerPlan, SamplerState } from './types.js'

/**
 * What the k-diffusion style samplers (Euler, Euler a, Heun, LMS, KDPM2) share: the training schedule,
 * the σ-ladder options checked once (one of Karras / exponential; beta sigmas unsupported), and the
 * spaced float timesteps a plan starts from.
 */
export abstract class KSigmaSampler extends BaseSampler {
  readonly schedule: NoiseSchedule

  constructor(className: string, spec: ClassSpec, config: unknown, options: ParseOptions, { sigmaOptions = true } = {}) {
    super(className, spec, config, options)
    if (sigmaOptions) {
      checkOneSigmaSpacing(this.className, this.config)
      if (this.config['use_beta_sigmas'] === true) throw unsupportedOption(this.className, 'use_beta_sigmas', true)
    }
    this.schedule = this.makeSchedule()
  }

  /** N training steps, n inference steps (checked) and the spaced float timesteps, as set_timesteps starts. */
  protected spacedTimesteps(numInferenceSteps: number): { N: number; n: number; ts: number[] } {
    const N = this.cfg<number>('num_train_timesteps')
    const n = checkInferenceSteps(this.className, numInferenceSteps, N)
    const ts = floatTimesteps(this.cfg<string>('timestep_spacing'), N, n, this.cfg('steps_offset'))
    this.checkTimestepRange(ts, N)
    return { N, n, ts }
  }

  /** the noise level a model evaluation at `index` sees (KDPM2's second stage overrides it) */
  protected inputSigma(index: number, plan: SamplerPlan, _state: SamplerState): number {
    return plan.sigmas![index]!
  }

  /** x / √(σ² + 1), in float32 steps as diffusers computes it */
  override scaleModelInput(sample: Float32Array, index: number, plan: SamplerPlan, state: SamplerState): Float32Array {
    this.checkPlan(plan)
    this.checkIndex(index, plan)
    const s = this.inputSigma(index, plan, state)
    return scaled(sample, 1 / Math.fround(Math.sqrt(Math.fround(Math.fround(s * s) + 1))))
  }

  /** x0 + σ·noise at the plan's σ for `index` */
  addNoise(original: Float32Array, noise: Float32Array, index: number, plan: SamplerPlan): Float32Array {
    this.checkPlan(plan)
    this.checkIndex(index, plan)
    return addNoiseSigma(original, noise, plan.sigmas![index]!)
  }
}
