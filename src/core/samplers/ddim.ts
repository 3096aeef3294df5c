import type { NoiseSchedule } from '../schedules.js'
import { addNoise as forwardProcess } from '../schedules.js'
import { BaseSampler, checkInferenceSteps, fusedUpdate, thresholdSample } from './base.js'
import { betaEnd, betaStart, bool, commonKeys, ext, num, registerClassSpec, type ClassSpec, type ParseOptions } from './config.js'
import { integerTimesteps } from './spacing.js'
import type { SamplerPlan, StepInput, StepOutput } from './types.js'

/**
 * DDIM (Song et al. 2021, eq. 12 and 16) with diffusers' DDIMScheduler semantics:
 *   prev_t = t − N/n (integer division: N training steps, n inference steps); ᾱ_prev = ᾱ_{prev_t}, or
 *            1 (set_alpha_to_one) / ᾱ_0 when prev_t < 0
 *   x0     from the model output (epsilon / v / sample); clipped to ±clip_sample_range or thresholded
 *   σ_t    = η·√((1−ᾱ_prev)/(1−ᾱ_t)·(1 − ᾱ_t/ᾱ_prev))
 *   x_prev = √ᾱ_prev·x0 + √(1 − ᾱ_prev − σ_t²)·ε + σ_t·z      (z drawn only when η > 0)
 * ε is the model's (or derived) noise, re-derived from the clipped x0 with use_clipped_model_output.
 * η and use_clipped_model_output are step arguments in diffusers; here they are config keys.
 */
export const DDIM_SPEC: ClassSpec = {
  num_train_timesteps: commonKeys.num_train_timesteps,
  beta_start: betaStart(0.0001),
  beta_end: betaEnd(0.02),
  beta_schedule: commonKeys.beta_schedule,
  trained_betas: commonKeys.trained_betas,
  clip_sample: bool(true),
  set_alpha_to_one: bool(true),
  steps_offset: commonKeys.steps_offset,
  prediction_type: commonKeys.prediction_type,
  thresholding: commonKeys.thresholding,
  dynamic_thresholding_ratio: commonKeys.dynamic_thresholding_ratio,
  clip_sample_range: commonKeys.clip_sample_range,
  sample_max_value: commonKeys.sample_max_value,
  timestep_spacing: commonKeys.timestep_spacing,
  rescale_betas_zero_snr: commonKeys.rescale_betas_zero_snr,
  eta: ext(num(0, { min: 0 })),
  use_clipped_model_output: ext(bool(false)),
}
registerClassSpec('DDIMScheduler', DDIM_SPEC)

export class DDIMScheduler extends BaseSampler {
  readonly order = 1
  readonly schedule: NoiseSchedule
  readonly finalAlphaCumprod: number

  constructor(config: unknown = {}, options: ParseOptions = {}) {
    super('DDIMScheduler', DDIM_SPEC, config, options)
    this.schedule = this.makeSchedule()
    this.finalAlphaCumprod = this.config['set_alpha_to_one'] === true ? 1 : this.schedule.alphasCumprod[0]!
  }

  plan(numInferenceSteps: number): SamplerPlan {
    const N = this.cfg<number>('num_train_timesteps')
    const n = checkInferenceSteps(this.className, numInferenceSteps, N)
    const ts = integerTimesteps(this.cfg('timestep_spacing'), N, n, this.cfg('steps_offset'))
    this.checkTimestepRange(ts, N)
    return this.finishPlan({ numInferenceSteps: n, timesteps: Float64Array.from(ts), initNoiseSigma: 1 })
  }

  /** ᾱ at t and at the step's target, as diffusers' DDIM computes them. */
  alphas(t: number, numInferenceSteps: number): { a: number; aPrev: number } {
    const prevT = t - Math.floor(this.cfg<number>('num_train_timesteps') / numInferenceSteps)
    return { a: this.schedule.alphasCumprod[t]!, aPrev: prevT >= 0 ? this.schedule.alphasCumprod[prevT]! : this.finalAlphaCumprod }
  }

  async step(input: StepInput): Promise<StepOutput> {
    const { n, batch } = this.checkStep(input)
    const { plan, index, sample, kernels } = input
    const t = plan.timesteps[index]!
    const { a, aPrev } = this.alphas(t, plan.numInferenceSteps)
    const eta = this.cfg<number>('eta')
    const variance = ((1 - aPrev) / (1 - a)) * (1 - a / aPrev)
    const std = eta * Math.sqrt(variance)
    const dirCoef = Math.sqrt(Math.max(1 - aPrev - std * std, 0))
    const noise = eta > 0 ? input.generator.randn(input.shape) : null
    const recompute = this.config['use_clipped_model_output'] === true
    const clip = this.config['clip_sample'] === true ? this.cfg<number>('clip_sample_range') : null
    const base = { predictionType: this.predictionType, alphaProdSqrt: Math.sqrt(a), betaProdSqrt: Math.sqrt(1 - a) }
    if (this.config['thresholding'] === true) {
      const x0 = (await fusedUpdate(kernels, sample, input.modelOutput, batch, null, { ...base, coefX0: 1, coefEps: 0, coefSample: 0, coefNoise: 0 }, false)).out
      const eps = (await fusedUpdate(kernels, sample, input.modelOutput, batch, null, { ...base, coefX0: 0, coefEps: 1, coefSample: 0, coefNoise: 0 }, false)).out
      thresholdSample(x0, batch, this.cfg('dynamic_thresholding_ratio'), this.cfg('sample_max_value'))
      const out = new Float32Array(n)
      const sa = Math.sqrt(aPrev)
      for (let i = 0; i < n; i++) {
        const e = recompute ? (sample[i]! - base.alphaProdSqrt * x0[i]!) / base.betaProdSqrt : eps[i]!
        out[i] = sa * x0[i]! + dirCoef * e + (noise ? std * noise[i]! : 0)
      }
      return { prevSample: out, predOriginal: x0 }
    }
    const r = await fusedUpdate(
      kernels,
      sample,
      input.modelOutput,
      batch,
      noise,
      { ...base, clipSample: clip, recomputeEps: recompute, coefX0: Math.sqrt(aPrev), coefEps: dirCoef, coefSample: 0, coefNoise: std },
      true,
    )
    return { prevSample: r.out, predOriginal: r.x0! }
  }

  addNoise(original: Float32Array, noise: Float32Array, index: number, plan: SamplerPlan): Float32Array {
    this.checkPlan(plan)
    this.checkIndex(index, plan)
    return forwardProcess(original, noise, this.schedule.alphasCumprod[plan.timesteps[index]!]!)
  }
}
