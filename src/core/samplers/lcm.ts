import { DiffuseError } from '../../errors.js'
import type { NoiseSchedule } from '../schedules.js'
import { addNoise as forwardProcess } from '../schedules.js'
import { BaseSampler, fusedUpdate, predictX0, thresholdSample } from './base.js'
import { betaEnd, betaStart, bool, commonKeys, int, num, oneOf, registerClassSpec, type ClassSpec, type ParseOptions } from './config.js'
import { npLinspace } from './numeric.js'
import type { SamplerPlan, StepInput, StepOutput } from './types.js'

/**
 * Latent consistency model sampling (Luo et al. 2023, arXiv 2310.04378; diffusers' LCMScheduler).
 * Timesteps: the `original_inference_steps` skipping-step grid (k·N/o − 1, k = 1..o), reversed, sampled
 * at floor(linspace(0, o, n, endpoint=False)). Each step applies the consistency boundary condition
 *   c_skip = σ_d²/((10t)² + σ_d²), c_out = 10t/√((10t)² + σ_d²)  (σ_d = 0.5, timestep_scaling = 10)
 *   denoised = c_out·x0 + c_skip·x
 * and re-noises to the next plan timestep: x_next = √ᾱ_next·denoised + √(1 − ᾱ_next)·z, drawn at every
 * step but the last, which returns `denoised`.
 */
export const LCM_SPEC: ClassSpec = {
  num_train_timesteps: commonKeys.num_train_timesteps,
  beta_start: betaStart(0.00085),
  beta_end: betaEnd(0.012),
  beta_schedule: oneOf('scaled_linear', ['linear', 'scaled_linear', 'squaredcos_cap_v2', 'exp']),
  trained_betas: commonKeys.trained_betas,
  original_inference_steps: int(50, 1, 1_000_000),
  clip_sample: bool(false),
  clip_sample_range: commonKeys.clip_sample_range,
  set_alpha_to_one: bool(true),
  steps_offset: commonKeys.steps_offset,
  prediction_type: commonKeys.prediction_type,
  thresholding: commonKeys.thresholding,
  dynamic_thresholding_ratio: commonKeys.dynamic_thresholding_ratio,
  sample_max_value: commonKeys.sample_max_value,
  timestep_spacing: commonKeys.timestep_spacing,
  timestep_scaling: num(10.0, { min: 0 }),
  rescale_betas_zero_snr: commonKeys.rescale_betas_zero_snr,
}
registerClassSpec('LCMScheduler', LCM_SPEC)

const SIGMA_DATA = 0.5

export class LCMScheduler extends BaseSampler {
  readonly order = 1
  readonly schedule: NoiseSchedule
  readonly finalAlphaCumprod: number

  constructor(config: unknown = {}, options: ParseOptions = {}) {
    super('LCMScheduler', LCM_SPEC, config, options)
    this.schedule = this.makeSchedule()
    this.finalAlphaCumprod = this.config['set_alpha_to_one'] === true ? 1 : this.schedule.alphasCumprod[0]!
  }

  plan(numInferenceSteps: number): SamplerPlan {
    const N = this.cfg<number>('num_train_timesteps')
    const original = this.cfg<number>('original_inference_steps')
    if (typeof numInferenceSteps !== 'number' || !Number.isInteger(numInferenceSteps) || numInferenceSteps < 1) {
      throw new DiffuseError('INVALID_ARGUMENT', `Expected numInferenceSteps to be an integer >= 1 but received ${String(numInferenceSteps)}`)
    }
    if (original > N) {
      throw new DiffuseError('INVALID_CONFIG', `Invalid LCMScheduler config: "original_inference_steps" (${original}) cannot exceed "num_train_timesteps" (${N})`, {
        details: { className: this.className, key: 'original_inference_steps' },
      })
    }
    if (numInferenceSteps > original) {
      throw new DiffuseError('INVALID_ARGUMENT', `LCMScheduler: numInferenceSteps (${numInferenceSteps}) cannot exceed original_inference_steps (${original})`, {
        details: { argument: 'numInferenceSteps' },
      })
    }
    const k = Math.floor(N / original)
    const origin: number[] = []
    for (let i = 1; i <= original; i++) origin.push(i * k - 1)
    origin.reverse()
    const idx = npLinspace(0, origin.length, numInferenceSteps, false).map(Math.floor)
    const ts = idx.map((i) => origin[i]!)
    return this.finishPlan({ numInferenceSteps, timesteps: Float64Array.from(ts), initNoiseSigma: 1 })
  }

  /** The consistency-model boundary scalings at timestep t. */
  scalings(t: number): { cSkip: number; cOut: number } {
    const s = t * this.cfg<number>('timestep_scaling')
    return { cSkip: SIGMA_DATA ** 2 / (s * s + SIGMA_DATA ** 2), cOut: s / Math.sqrt(s * s + SIGMA_DATA ** 2) }
  }

  async step(input: StepInput): Promise<StepOutput> {
    const { n, batch } = this.checkStep(input)
    const { plan, index, sample, kernels } = input
    const t = plan.timesteps[index]!
    const last = index === plan.timesteps.length - 1
    const prevT = last ? t : plan.timesteps[index + 1]!
    const a = this.schedule.alphasCumprod[t]!
    const aPrev = prevT >= 0 ? this.schedule.alphasCumprod[prevT]! : this.finalAlphaCumprod
    const { cSkip, cOut } = this.scalings(t)
    const clip = this.config['clip_sample'] === true ? this.cfg<number>('clip_sample_range') : null
    const noise = last ? null : input.generator.randn(input.shape)
    const keep = last ? 1 : Math.sqrt(aPrev)
    const std = last ? 0 : Math.sqrt(1 - aPrev)
    const base = { predictionType: this.predictionType, alphaProdSqrt: Math.sqrt(a), betaProdSqrt: Math.sqrt(1 - a) }
    let denoised: Float32Array
    let out: Float32Array
    if (this.config['thresholding'] === true) {
      const x0 = await predictX0(kernels, sample, input.modelOutput, batch, this.predictionType, base.alphaProdSqrt, base.betaProdSqrt)
      thresholdSample(x0, batch, this.cfg('dynamic_thresholding_ratio'), this.cfg('sample_max_value'))
      denoised = new Float32Array(n)
      out = new Float32Array(n)
      for (let i = 0; i < n; i++) {
        denoised[i] = cOut * x0[i]! + cSkip * sample[i]!
        out[i] = keep * denoised[i]! + (noise ? std * noise[i]! : 0)
      }
    } else {
      // x_next = √ᾱ_next·(c_out·x0 + c_skip·x) + √(1−ᾱ_next)·z in one pass; denoised for the preview
      const r = await fusedUpdate(kernels, sample, input.modelOutput, batch, noise, { ...base, clipSample: clip, coefX0: keep * cOut, coefEps: 0, coefSample: keep * cSkip, coefNoise: std }, true)
      out = r.out
      const x0 = r.x0!
      denoised = last ? out : new Float32Array(n)
      if (!last) for (let i = 0; i < n; i++) denoised[i] = cOut * x0[i]! + cSkip * sample[i]!
    }
    return { prevSample: out, predOriginal: denoised }
  }

  addNoise(original: Float32Array, noise: Float32Array, index: number, plan: SamplerPlan): Float32Array {
    this.checkPlan(plan)
    this.checkIndex(index, plan)
    return forwardProcess(original, noise, this.schedule.alphasCumprod[plan.timesteps[index]!]!)
  }
}
