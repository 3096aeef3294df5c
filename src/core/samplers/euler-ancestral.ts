import { fusedUpdate, sigmaPredictionCoefficients } from './base.js'
import { betaEnd, betaStart, commonKeys, oneOf, registerClassSpec, type ClassSpec, type ParseOptions } from './config.js'
import type { SigmaPlan } from './euler.js'
import { KSigmaSampler } from './k-sampler.js'
import { kInitNoiseSigma, kSigmaTable } from './k-sigmas.js'
import type { SamplerPlan, StepInput, StepOutput } from './types.js'

/**
 * Euler ancestral (k-diffusion's sample_euler_ancestral, diffusers' EulerAncestralDiscreteScheduler):
 * from σ to σ_next, split the move into a deterministic part to σ_down and fresh noise of σ_up,
 *   σ_up = √(σ_next²·(σ² − σ_next²)/σ²),  σ_down = √(σ_next² − σ_up²)
 *   x_next = x + (x − x0)/σ · (σ_down − σ) + σ_up·z
 * z is drawn at every step, the last included (where σ_up = 0), as diffusers does.
 */
export const EULER_A_SPEC: ClassSpec = {
  num_train_timesteps: commonKeys.num_train_timesteps,
  beta_start: betaStart(0.0001),
  beta_end: betaEnd(0.02),
  beta_schedule: commonKeys.beta_schedule,
  trained_betas: commonKeys.trained_betas,
  prediction_type: oneOf('epsilon', ['epsilon', 'v_prediction']),
  timestep_spacing: oneOf('linspace', ['linspace', 'leading', 'trailing']),
  steps_offset: commonKeys.steps_offset,
  rescale_betas_zero_snr: commonKeys.rescale_betas_zero_snr,
}
registerClassSpec('EulerAncestralDiscreteScheduler', EULER_A_SPEC)

export class EulerAncestralDiscreteScheduler extends KSigmaSampler {
  readonly order = 1

  constructor(config: unknown = {}, options: ParseOptions = {}) {
    super('EulerAncestralDiscreteScheduler', EULER_A_SPEC, config, options, { sigmaOptions: false })
  }

  plan(numInferenceSteps: number): SigmaPlan {
    const { N, n, ts } = this.spacedTimesteps(numInferenceSteps)
    const table = kSigmaTable(this.schedule, ts, 'default', { zeroSnrFix: this.config['rescale_betas_zero_snr'] === true })
    const sigmas = Float64Array.from([...table.sigmas, 0], (s) => Math.fround(s))
    return this.finishPlan({
      numInferenceSteps: n,
      timesteps: Float64Array.from(ts, (t) => Math.fround(t)),
      sigmas,
      initNoiseSigma: kInitNoiseSigma(sigmas, this.cfg<string>('timestep_spacing')),
    })
  }

  async step(input: StepInput): Promise<StepOutput> {
    const { batch } = this.checkStep(input)
    const { plan, index, kernels } = input
    const sigmas = plan.sigmas!
    const sigma = sigmas[index]!
    const sigmaTo = sigmas[index + 1]!
    const sigmaUp = Math.sqrt((sigmaTo * sigmaTo * (sigma * sigma - sigmaTo * sigmaTo)) / (sigma * sigma))
    const sigmaDown = Math.sqrt(Math.max(sigmaTo * sigmaTo - sigmaUp * sigmaUp, 0))
    const dt = sigmaDown - sigma
    const noise = input.generator.randn(input.shape)
    const { a, b } = sigmaPredictionCoefficients(this.predictionType, sigma)
    const r = await fusedUpdate(
      kernels,
      input.sample,
      input.modelOutput,
      batch,
      noise,
      { predictionType: this.predictionType, alphaProdSqrt: a, betaProdSqrt: b, coefX0: -dt / sigma, coefEps: 0, coefSample: 1 + dt / sigma, coefNoise: sigmaUp },
      true,
    )
    return { prevSample: r.out, predOriginal: r.x0! }
  }
}
