import { DiffuseError } from '../../errors.js'
import { fusedUpdate, sigmaPredictionCoefficients } from './base.js'
import { betaEnd, betaStart, bool, commonKeys, oneOf, registerClassSpec, type ClassSpec, type ParseOptions } from './config.js'
import type { SigmaPlan } from './euler.js'
import { KSigmaSampler } from './k-sampler.js'
import { kInitNoiseSigma, kSigmaTable, ladderOf } from './k-sigmas.js'
import type { SamplerPlan, StepInput, StepOutput } from './types.js'

/**
 * Heun's second-order method (Karras et al. 2022, Algorithm 1 without churn; diffusers'
 * HeunDiscreteScheduler). Each step from σ_i to σ_{i+1} evaluates the model twice:
 *   d  = (x − x0(x, σ_i))/σ_i,          x' = x + d·(σ_{i+1} − σ_i)
 *   d' = (x' − x0(x', σ_{i+1}))/σ_{i+1}, x_{i+1} = x + (d + d')/2 · (σ_{i+1} − σ_i)
 * except the last step to σ = 0, which is Euler's. The plan repeats the inner sigmas and timesteps
 * (one entry per model evaluation) as diffusers does.
 */
export const HEUN_SPEC: ClassSpec = {
  num_train_timesteps: commonKeys.num_train_timesteps,
  beta_start: betaStart(0.00085),
  beta_end: betaEnd(0.012),
  beta_schedule: commonKeys.beta_schedule,
  trained_betas: commonKeys.trained_betas,
  prediction_type: commonKeys.prediction_type,
  use_karras_sigmas: bool(false),
  use_exponential_sigmas: bool(false),
  use_beta_sigmas: bool(false),
  clip_sample: bool(false),
  clip_sample_range: commonKeys.clip_sample_range,
  timestep_spacing: oneOf('linspace', ['linspace', 'leading', 'trailing']),
  steps_offset: commonKeys.steps_offset,
}
registerClassSpec('HeunDiscreteScheduler', HEUN_SPEC)

interface HeunState {
  plan: SigmaPlan
  /** x + (dt/2)·d of the first stage */
  half: Float32Array | null
  dt: number | null
}

/** [a, b, b, c, c, ..., last]: each inner value twice (torch.repeat_interleave of the middle). */
export function interleaveInner(values: readonly number[]): number[] {
  const out = [values[0]!]
  for (let i = 1; i < values.length - 1; i++) out.push(values[i]!, values[i]!)
  if (values.length > 1) out.push(values[values.length - 1]!)
  return out
}

export class HeunDiscreteScheduler extends KSigmaSampler {
  readonly order = 2

  constructor(config: unknown = {}, options: ParseOptions = {}) {
    super('HeunDiscreteScheduler', HEUN_SPEC, config, options)
  }

  plan(numInferenceSteps: number): SigmaPlan {
    const { N, n, ts } = this.spacedTimesteps(numInferenceSteps)
    const table = kSigmaTable(this.schedule, ts, ladderOf(this.config))
    const base = [...table.sigmas, 0].map((s) => Math.fround(s))
    const sigmas = Float64Array.from(interleaveInner(base))
    const tsf = table.timesteps.map((t) => Math.fround(t))
    const timesteps = Float64Array.from([tsf[0]!, ...tsf.slice(1).flatMap((t) => [t, t])])
    return this.finishPlan({ numInferenceSteps: n, timesteps, sigmas, initNoiseSigma: kInitNoiseSigma(sigmas, this.cfg<string>('timestep_spacing')) })
  }

  protected override initialState(): Record<string, unknown> {
    return { half: null, dt: null }
  }

  async step(input: StepInput): Promise<StepOutput> {
    const { n, batch } = this.checkStep(input)
    const { plan, index, kernels, sample } = input
    const state = input.state as unknown as HeunState
    const sigmas = plan.sigmas!
    const clip = this.config['clip_sample'] === true ? this.cfg<number>('clip_sample_range') : null
    const pt = this.predictionType
    if (state.dt === null) {
      const sigma = sigmas[index]!
      const sigmaNext = sigmas[index + 1]!
      const { a, b } = sigmaPredictionCoefficients(pt, sigma)
      const dt = sigmaNext - sigma
      const r = await fusedUpdate(
        kernels,
        sample,
        input.modelOutput,
        batch,
        null,
        { predictionType: pt, alphaProdSqrt: a, betaProdSqrt: b, clipSample: clip, coefX0: -dt / sigma, coefEps: 0, coefSample: 1 + dt / sigma, coefNoise: 0 },
        true,
      )
      const x0 = r.x0!
      // the second stage adds (dt/2)·d' to x + (dt/2)·d: that first part is kept, so the second stage is
      // one fused pass with it in the kernel's noise slot
      const half = new Float32Array(n)
      const k = dt / (2 * sigma)
      for (let i = 0; i < n; i++) half[i] = sample[i]! + k * (sample[i]! - x0[i]!)
      state.half = half
      state.dt = dt
      return { prevSample: r.out, predOriginal: x0 }
    }
    if (index < 1) throw new DiffuseError('INVALID_ARGUMENT', `${this.className}: the second stage of a Heun step cannot be plan index 0`)
    const sigmaNext = sigmas[index]!
    const { a, b } = sigmaPredictionCoefficients(pt, sigmaNext)
    const k = state.dt / (2 * sigmaNext)
    const r = await fusedUpdate(kernels, sample, input.modelOutput, batch, state.half, { predictionType: pt, alphaProdSqrt: a, betaProdSqrt: b, clipSample: clip, coefX0: -k, coefEps: 0, coefSample: k, coefNoise: 1 }, true)
    state.half = null
    state.dt = null
    return { prevSample: r.out, predOriginal: r.x0! }
  }
}
