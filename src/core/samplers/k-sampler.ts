import type { NoiseSchedule } from '../schedules.js'
import { BaseSampler, checkInferenceSteps } from './base.js'
import { checkOneSigmaSpacing, unsupportedOption, type ClassSpec, type ParseOptions } from './config.js'
import { floatTimesteps } from './spacing.js'

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
}
