import { fusedUpdate, sigmaPredictionCoefficients } from './base.js'
import { betaEnd, betaStart, bool, commonKeys, ext, num, oneOf, registerClassSpec, type ClassSpec, type ParseOptions } from './config.js'
import { KSigmaSampler } from './k-sampler.js'
import { kInitNoiseSigma, kSigmaTable, ladderOf } from './k-sigmas.js'
import type { SamplerPlan, StepInput, StepOutput } from './types.js'

/**
 * Euler's method on the probability-flow ODE in k-diffusion form (Karras et al. 2022, Algorithm 1 and
 * the churn of Algorithm 2 as diffusers' EulerDiscreteScheduler applies it):
 *   model input x/√(σ²+1); x0 from the output; with churn γ = min(s_churn/n, √2−1) when
 *   s_tmin ≤ σ ≤ s_tmax, σ̂ = σ(1+γ) and x̂ = x + s_noise·z·√(σ̂²−σ²) (z drawn only when γ > 0, after
 *   the model call, exactly where diffusers draws it);
 *   x_next = x̂ + (x̂ − x0)/σ̂ · (σ_next − σ̂).
 * s_churn, s_tmin, s_tmax (null = ∞) and s_noise are step arguments in diffusers, config keys here.
 */
export const EULER_SPEC: ClassSpec = {
  num_train_timesteps: commonKeys.num_train_timesteps,
  beta_start: betaStart(0.0001),
  beta_end: betaEnd(0.02),
  beta_schedule: commonKeys.beta_schedule,
  trained_betas: commonKeys.trained_betas,
  prediction_type: commonKeys.prediction_type,
  interpolation_type: oneOf('linear', ['linear', 'log_linear']),
  use_karras_sigmas: bool(false),
  use_exponential_sigmas: bool(false),
  use_beta_sigmas: bool(false),
  sigma_min: num(null, { above: 0, nullable: true }),
  sigma_max: num(null, { above: 0, nullable: true }),
  timestep_spacing: oneOf('linspace', ['linspace', 'leading', 'trailing']),
  timestep_type: oneOf('discrete', ['discrete', 'continuous']),
  steps_offset: commonKeys.steps_offset,
  rescale_betas_zero_snr: commonKeys.rescale_betas_zero_snr,
  final_sigmas_type: oneOf('zero', ['zero', 'sigma_min']),
  s_churn: ext(num(0, { min: 0 })),
  s_tmin: ext(num(0, { min: 0 })),
  s_tmax: ext(num(null, { min: 0, nullable: true, allowInfinite: true })),
  s_noise: ext(num(1, { min: 0 })),
}
registerClassSpec('EulerDiscreteScheduler', EULER_SPEC)

export interface SigmaPlan extends SamplerPlan {
  readonly sigmas: Float64Array
}

export class EulerDiscreteScheduler extends KSigmaSampler {
  readonly order = 1

  constructor(config: unknown = {}, options: ParseOptions = {}) {
    super('EulerDiscreteScheduler', EULER_SPEC, config, options)
  }

  plan(numInferenceSteps: number): SigmaPlan {
    const { N, n, ts } = this.spacedTimesteps(numInferenceSteps)
    const zeroSnr = this.config['rescale_betas_zero_snr'] === true
    const table = kSigmaTable(this.schedule, ts, ladderOf(this.config), {
      zeroSnrFix: zeroSnr,
      sigmaMin: this.cfg<number | null>('sigma_min'),
      sigmaMax: this.cfg<number | null>('sigma_max'),
      logLinear: this.cfg('interpolation_type') === 'log_linear',
    })
    const a0 = this.schedule.alphasCumprod[0]!
    const last = this.cfg('final_sigmas_type') === 'sigma_min' ? Math.sqrt((1 - a0) / a0) : 0
    const sigmas = Float64Array.from([...table.sigmas, last], (s) => Math.fround(s))
    let timesteps: Float64Array
    if (this.cfg('timestep_type') === 'continuous' && this.predictionType === 'v_prediction') {
      // EDM's c_noise = ¼·ln σ for continuous-time v models
      timesteps = Float64Array.from(sigmas.subarray(0, sigmas.length - 1), (s) => Math.fround(0.25 * Math.fround(Math.log(s))))
    } else {
      timesteps = Float64Array.from(table.timesteps, (t) => Math.fround(t))
    }
    return this.finishPlan({ numInferenceSteps: n, timesteps, sigmas, initNoiseSigma: kInitNoiseSigma(sigmas, this.cfg<string>('timestep_spacing')) })
  }

  async step(input: StepInput): Promise<StepOutput> {
    const { n, batch } = this.checkStep(input)
    const { plan, index, kernels } = input
    const sigmas = plan.sigmas!
    const sigma = sigmas[index]!
    const sTmax = this.cfg<number | null>('s_tmax') ?? Infinity
    const churn = this.cfg<number>('s_churn')
    const gamma = this.cfg<number>('s_tmin') <= sigma && sigma <= sTmax ? Math.min(churn / (sigmas.length - 1), Math.SQRT2 - 1) : 0
    const sigmaHat = sigma * (gamma + 1)
    let x = input.sample
    if (gamma > 0) {
      const z = input.generator.randn(input.shape)
      const k = this.cfg<number>('s_noise') * Math.sqrt(sigmaHat * sigmaHat - sigma * sigma)
      const churned = new Float32Array(n)
      for (let i = 0; i < n; i++) churned[i] = x[i]! + z[i]! * k
      x = churned
    }
    // diffusers' v formula uses σ (not σ̂); the epsilon formula uses σ̂
    const { a, b } = this.predictionType === 'v_prediction' ? sigmaPredictionCoefficients('v_prediction', sigma) : sigmaPredictionCoefficients(this.predictionType, sigmaHat)
    const dt = sigmas[index + 1]! - sigmaHat
    const r = await fusedUpdate(
      kernels,
      x,
      input.modelOutput,
      batch,
      null,
      { predictionType: this.predictionType, alphaProdSqrt: a, betaProdSqrt: b, coefX0: -dt / sigmaHat, coefEps: 0, coefSample: 1 + dt / sigmaHat, coefNoise: 0 },
      true,
    )
    return { prevSample: r.out, predOriginal: r.x0! }
  }
}
