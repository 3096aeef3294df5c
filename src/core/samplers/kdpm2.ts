import { DiffuseError } from '../../errors.js'
import { trainingSigmas } from '../schedules.js'
import { fusedUpdate, sigmaPredictionCoefficients } from './base.js'
import { betaEnd, betaStart, bool, commonKeys, oneOf, registerClassSpec, type ClassSpec, type ParseOptions } from './config.js'
import type { SigmaPlan } from './euler.js'
import { KSigmaSampler } from './k-sampler.js'
import { kInitNoiseSigma, kSigmaTable, ladderOf, logSigmasF32 } from './k-sigmas.js'
import { roundHalfEven, sigmaToT } from './numeric.js'
import type { SamplerPlan, SamplerState, StepInput, StepOutput } from './types.js'

/**
 * DPM-Solver-2 in k-diffusion form (k-diffusion's sample_dpm_2, diffusers' KDPM2DiscreteScheduler):
 * a midpoint method in log σ. From σ_i to σ_{i+1} with σ_mid = √(σ_i·σ_{i+1}):
 *   d = (x − x0(x, σ_i))/σ_i,                x_mid = x + d·(σ_mid − σ_i)
 *   d_mid = (x_mid − x0(x_mid, σ_mid))/σ_mid,  x_{i+1} = x + d_mid·(σ_{i+1} − σ_i)
 * The last step (σ_{i+1} = 0) is a single Euler step to σ_mid = 0. Model evaluations at σ_mid use the
 * timestep interpolated from σ_mid.
 */
export const KDPM2_SPEC: ClassSpec = {
  num_train_timesteps: commonKeys.num_train_timesteps,
  beta_start: betaStart(0.00085),
  beta_end: betaEnd(0.012),
  beta_schedule: commonKeys.beta_schedule,
  trained_betas: commonKeys.trained_betas,
  use_karras_sigmas: bool(false),
  use_exponential_sigmas: bool(false),
  use_beta_sigmas: bool(false),
  prediction_type: oneOf('epsilon', ['epsilon', 'v_prediction']),
  timestep_spacing: oneOf('linspace', ['linspace', 'leading', 'trailing']),
  steps_offset: commonKeys.steps_offset,
}
registerClassSpec('KDPM2DiscreteScheduler', KDPM2_SPEC)

export interface Kdpm2Plan extends SigmaPlan {
  /** σ_mid per model evaluation index (diffusers' sigmas_interpol, interleaved like sigmas) */
  readonly sigmasInterpol: Float64Array
}

interface Kdpm2State {
  plan: Kdpm2Plan
  sample: Float32Array | null
}

export class KDPM2DiscreteScheduler extends KSigmaSampler {
  readonly order = 2

  constructor(config: unknown = {}, options: ParseOptions = {}) {
    super('KDPM2DiscreteScheduler', KDPM2_SPEC, config, options)
  }

  plan(numInferenceSteps: number): Kdpm2Plan {
    const { N, n, ts } = this.spacedTimesteps(numInferenceSteps)
    const ladder = ladderOf(this.config)
    const table = kSigmaTable(this.schedule, ts, ladder)
    const logSigmas = logSigmasF32(trainingSigmas(this.schedule.alphasCumprod))
    // diffusers rounds the Karras timesteps of KDPM2 (not the exponential ones)
    const baseTs = (ladder === 'karras' ? table.timesteps.map(roundHalfEven) : table.timesteps).map((t) => Math.fround(t))
    const s = [...table.sigmas, 0].map((v) => Math.fround(v))
    // σ_mid_i = exp(lerp(log σ_i, log σ_{i−1}, ½)) (torch.lerp at weight ½: end − (end − start)/2)
    const interp = s.map((v, i) => {
      const start = Math.log(v)
      const end = Math.log(i === 0 ? s[s.length - 1]! : s[i - 1]!)
      return Math.fround(Math.exp(end - (end - start) * 0.5))
    })
    const full: number[] = [s[0]!]
    const fullInterp: number[] = [interp[0]!]
    for (let i = 1; i < s.length; i++) {
      full.push(s[i]!, s[i]!)
      fullInterp.push(interp[i]!, interp[i]!)
    }
    full.push(s[s.length - 1]!)
    fullInterp.push(interp[interp.length - 1]!)
    const tInterp = interp.map((v) => Math.fround(sigmaToT(v, logSigmas)))
    const timesteps: number[] = [baseTs[0]!]
    for (let i = 1; i < baseTs.length; i++) timesteps.push(tInterp[i]!, baseTs[i]!)
    const sigmas = Float64Array.from(full)
    return this.finishPlan({
      numInferenceSteps: n,
      timesteps: Float64Array.from(timesteps),
      sigmas,
      sigmasInterpol: Float64Array.from(fullInterp),
      initNoiseSigma: kInitNoiseSigma(sigmas.filter((v) => Number.isFinite(v)), this.cfg<string>('timestep_spacing')),
    })
  }

  protected override initialState(): Record<string, unknown> {
    return { sample: null }
  }

  /** the second stage evaluates the model at the interpolated σ */
  protected override inputSigma(index: number, plan: SamplerPlan, state: SamplerState): number {
    const p = plan as Kdpm2Plan
    return (state as unknown as Kdpm2State).sample === null ? p.sigmas[index]! : p.sigmasInterpol[index]!
  }

  async step(input: StepInput): Promise<StepOutput> {
    const { n, batch } = this.checkStep(input)
    const { index, kernels, sample } = input
    const state = input.state as unknown as Kdpm2State
    const plan = state.plan
    const pt = this.predictionType
    if (state.sample === null) {
      const sigma = plan.sigmas[index]!
      const sigmaMid = plan.sigmasInterpol[index + 1]!
      const { a, b } = sigmaPredictionCoefficients(pt, sigma)
      const dt = sigmaMid - sigma
      const r = await fusedUpdate(
        kernels,
        sample,
        input.modelOutput,
        batch,
        null,
        { predictionType: pt, alphaProdSqrt: a, betaProdSqrt: b, coefX0: -dt / sigma, coefEps: 0, coefSample: 1 + dt / sigma, coefNoise: 0 },
        true,
      )
      state.sample = sample
      return { prevSample: r.out, predOriginal: r.x0! }
    }
    if (index < 1) throw new DiffuseError('INVALID_ARGUMENT', `${this.className}: the second stage of a step cannot be plan index 0`)
    const sigma = plan.sigmas[index - 1]!
    const sigmaMid = plan.sigmasInterpol[index]!
    const sigmaNext = plan.sigmas[index]!
    const { a, b } = sigmaPredictionCoefficients(pt, sigmaMid)
    const dt = sigmaNext - sigma
    // x_next = x + (x_mid − x0)/σ_mid·dt in one fused pass: x_mid is the kernel's sample, x its noise slot
    const k = dt / sigmaMid
    const r = await fusedUpdate(kernels, sample, input.modelOutput, batch, state.sample, { predictionType: pt, alphaProdSqrt: a, betaProdSqrt: b, coefX0: -k, coefEps: 0, coefSample: k, coefNoise: 1 }, true)
    state.sample = null
    return { prevSample: r.out, predOriginal: r.x0! }
  }
}
