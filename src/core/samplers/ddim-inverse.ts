import type { NoiseSchedule } from '../schedules.js'
import { addNoise as forwardProcess } from '../schedules.js'
import { BaseSampler, checkInferenceSteps, fusedUpdate } from './base.js'
import { betaEnd, betaStart, bool, commonKeys, oneOf, registerClassSpec, type ClassSpec, type ParseOptions } from './config.js'
import { npArange, roundHalfEven } from './numeric.js'
import type { SamplerPlan, StepInput, StepOutput } from './types.js'

/**
 * DDIM inversion (the deterministic DDIM ODE run from data towards noise), with diffusers'
 * DDIMInverseScheduler semantics. Timesteps ascend; at plan timestep t the model sees the current
 * (less noisy) sample, and the step moves it from level s = min(t − N/n, N − 1) to level t:
 *   ᾱ_s = ᾱ_s (s ≥ 0) else 1 (set_alpha_to_one) / ᾱ_0;  x0, ε from the model output at ᾱ_s;
 *   x_t = √ᾱ_t·x0 + √(1 − ᾱ_t)·ε
 * Inverting with n steps and then sampling with DDIMScheduler (η = 0, same n and spacing) returns to
 * the data up to the model's discretisation error.
 */
export const DDIM_INVERSE_SPEC: ClassSpec = {
  num_train_timesteps: commonKeys.num_train_timesteps,
  beta_start: betaStart(0.0001),
  beta_end: betaEnd(0.02),
  beta_schedule: commonKeys.beta_schedule,
  trained_betas: commonKeys.trained_betas,
  clip_sample: bool(true),
  set_alpha_to_one: bool(true),
  steps_offset: commonKeys.steps_offset,
  prediction_type: commonKeys.prediction_type,
  clip_sample_range: commonKeys.clip_sample_range,
  timestep_spacing: oneOf('leading', ['leading', 'trailing']),
  rescale_betas_zero_snr: commonKeys.rescale_betas_zero_snr,
}
registerClassSpec('DDIMInverseScheduler', DDIM_INVERSE_SPEC)

export class DDIMInverseScheduler extends BaseSampler {
  readonly order = 1
  readonly schedule: NoiseSchedule
  readonly initialAlphaCumprod: number

  constructor(config: unknown = {}, options: ParseOptions = {}) {
    super('DDIMInverseScheduler', DDIM_INVERSE_SPEC, config, options)
    this.schedule = this.makeSchedule()
    this.initialAlphaCumprod = this.config['set_alpha_to_one'] === true ? 1 : this.schedule.alphasCumprod[0]!
  }

  plan(numInferenceSteps: number): SamplerPlan {
    const N = this.cfg<number>('num_train_timesteps')
    const n = checkInferenceSteps(this.className, numInferenceSteps, N)
    let ts: number[]
    if (this.cfg('timestep_spacing') === 'leading') {
      const ratio = Math.floor(N / n)
      ts = npArange(0, n, 1).map((i) => i * ratio + this.cfg<number>('steps_offset'))
    } else {
      ts = npArange(N, 0, -N / n)
        .reverse()
        .map((v) => roundHalfEven(v) - 1)
    }
    this.checkTimestepRange(ts, N)
    return this.finishPlan({ numInferenceSteps: n, timesteps: Float64Array.from(ts), initNoiseSigma: 1 })
  }

  async step(input: StepInput): Promise<StepOutput> {
    const { batch } = this.checkStep(input)
    const { plan, index, sample, kernels } = input
    const N = this.cfg<number>('num_train_timesteps')
    const target = plan.timesteps[index]!
    const from = Math.min(target - Math.floor(N / plan.numInferenceSteps), N - 1)
    const a = from >= 0 ? this.schedule.alphasCumprod[from]! : this.initialAlphaCumprod
    const aNext = this.schedule.alphasCumprod[target]!
    const clip = this.config['clip_sample'] === true ? this.cfg<number>('clip_sample_range') : null
    const r = await fusedUpdate(
      kernels,
      sample,
      input.modelOutput,
      batch,
      null,
      {
        predictionType: this.predictionType,
        alphaProdSqrt: Math.sqrt(a),
        betaProdSqrt: Math.sqrt(1 - a),
        clipSample: clip,
        coefX0: Math.sqrt(aNext),
        coefEps: Math.sqrt(1 - aNext),
        coefSample: 0,
        coefNoise: 0,
      },
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
