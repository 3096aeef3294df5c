import { predictX0, sigmaPredictionCoefficients } from './base.js'
import { betaEnd, betaStart, bool, commonKeys, ext, int, oneOf, registerClassSpec, type ClassSpec, type ParseOptions } from './config.js'
import type { SigmaPlan } from './euler.js'
import { KSigmaSampler } from './k-sampler.js'
import { kInitNoiseSigma, kSigmaTable, ladderOf } from './k-sigmas.js'
import { integratePolynomial } from './numeric.js'
import type { SamplerPlan, StepInput, StepOutput } from './types.js'

/**
 * Linear multistep (k-diffusion's sample_lms, diffusers' LMSDiscreteScheduler): with derivatives
 * d_k = (x_k − x0_k)/σ_k of the last `order` steps (order = min(step + 1, lms_order)),
 *   x_{i+1} = x_i + Σ_j c_j · d_{i−j},   c_j = ∫_{σ_i}^{σ_{i+1}} Π_{k≠j} (τ − σ_{i−k})/(σ_{i−j} − σ_{i−k}) dτ
 * (Lagrange basis polynomials in σ, integrated exactly). `lms_order` is the step argument `order`
 * of diffusers (default 4), a config key here.
 */
export const LMS_SPEC: ClassSpec = {
  num_train_timesteps: commonKeys.num_train_timesteps,
  beta_start: betaStart(0.0001),
  beta_end: betaEnd(0.02),
  beta_schedule: commonKeys.beta_schedule,
  trained_betas: commonKeys.trained_betas,
  use_karras_sigmas: bool(false),
  use_exponential_sigmas: bool(false),
  use_beta_sigmas: bool(false),
  prediction_type: commonKeys.prediction_type,
  timestep_spacing: oneOf('linspace', ['linspace', 'leading', 'trailing']),
  steps_offset: commonKeys.steps_offset,
  lms_order: ext(int(4, 1, 8)),
}
registerClassSpec('LMSDiscreteScheduler', LMS_SPEC)

interface LmsState {
  plan: SigmaPlan
  derivatives: Float32Array[]
}

/** The LMS coefficient of derivative `current` (0 = newest) for the step from sigmas[t] to sigmas[t+1]. */
export function lmsCoefficient(sigmas: ArrayLike<number>, order: number, t: number, current: number): number {
  const basis = (tau: number): number => {
    let prod = 1
    for (let k = 0; k < order; k++) {
      if (k === current) continue
      prod *= (tau - sigmas[t - k]!) / (sigmas[t - current]! - sigmas[t - k]!)
    }
    return prod
  }
  return integratePolynomial(basis, sigmas[t]!, sigmas[t + 1]!)
}

export class LMSDiscreteScheduler extends KSigmaSampler {
  readonly order = 1

  constructor(config: unknown = {}, options: ParseOptions = {}) {
    super('LMSDiscreteScheduler', LMS_SPEC, config, options)
  }

  plan(numInferenceSteps: number): SigmaPlan {
    const { N, n, ts } = this.spacedTimesteps(numInferenceSteps)
    const table = kSigmaTable(this.schedule, ts, ladderOf(this.config))
    const sigmas = Float64Array.from([...table.sigmas, 0], (s) => Math.fround(s))
    return this.finishPlan({
      numInferenceSteps: n,
      timesteps: Float64Array.from(table.timesteps, (t) => Math.fround(t)),
      sigmas,
      initNoiseSigma: kInitNoiseSigma(sigmas, this.cfg<string>('timestep_spacing')),
    })
  }

  protected override initialState(): Record<string, unknown> {
    return { derivatives: [] }
  }

  async step(input: StepInput): Promise<StepOutput> {
    const { n, batch } = this.checkStep(input)
    const { plan, index, kernels, sample } = input
    const state = input.state as unknown as LmsState
    const sigmas = plan.sigmas!
    const sigma = sigmas[index]!
    const { a, b } = sigmaPredictionCoefficients(this.predictionType, sigma)
    const x0 = await predictX0(kernels, sample, input.modelOutput, batch, this.predictionType, a, b)
    const d = new Float32Array(n)
    for (let i = 0; i < n; i++) d[i] = (sample[i]! - x0[i]!) / sigma
    const maxOrder = this.cfg<number>('lms_order')
    state.derivatives.push(d)
    if (state.derivatives.length > maxOrder) state.derivatives.shift()
    const order = Math.min(index + 1, maxOrder)
    // zip(coeffs, reversed(derivatives)): newest derivative first, as many as both lists have
    const coeffs: number[] = []
    for (let j = 0; j < order; j++) coeffs.push(lmsCoefficient(sigmas, order, index, j))
    const ds = [...state.derivatives].reverse()
    const m = Math.min(coeffs.length, ds.length)
    const out = new Float64Array(sample)
    for (let j = 0; j < m; j++) {
      const c = coeffs[j]!
      const dj = ds[j]!
      for (let i = 0; i < n; i++) out[i] = out[i]! + c * dj[i]!
    }
    return { prevSample: Float32Array.from(out), predOriginal: x0 }
  }
}
