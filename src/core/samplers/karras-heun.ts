import { DiffuseError } from '../../errors.js'
import type { NoiseSchedule } from '../schedules.js'
import { addNoiseSigma, trainingSigmas } from '../schedules.js'
import { BaseSampler, checkInferenceSteps, fusedUpdate, scaled, sigmaPredictionCoefficients } from './base.js'
import { betaEnd, betaStart, commonKeys, num, oneOf, registerClassSpec, type ClassSpec, type ParseOptions } from './config.js'
import { logSigmasF32 } from './k-sigmas.js'
import { karrasSigmas, sigmaToT } from './numeric.js'
import type { SamplerPlan, SamplerState, StepInput, StepOutput } from './types.js'

/**
 * The stochastic Heun sampler of Karras et al. 2022 ("Elucidating the design space", Algorithm 2), the
 * sampler Point-E uses (karras_sample_progressive with sampler "heun"). diffusers has no class for it.
 *
 * Noise levels: σ_i = (σ_max^(1/ρ) + i/(n−1)·(σ_min^(1/ρ) − σ_max^(1/ρ)))^ρ, i < n, and σ_n = 0.
 * For each step i:
 *   γ_i  = min(s_churn/n, √2 − 1) if s_tmin ≤ σ_i ≤ s_tmax, else 0;   σ̂_i = σ_i·(1 + γ_i)
 *   x̂_i = x_i + √(σ̂_i² − σ_i²)·ε_i,  ε_i ~ N(0, s_noise²)               (churn: raise the noise level)
 *   d_i  = (x̂_i − D(x̂_i; σ̂_i))/σ̂_i;  x_{i+1} = x̂_i + (σ_{i+1} − σ̂_i)·d_i   (Euler)
 *   if σ_{i+1} ≠ 0:  d'_i = (x_{i+1} − D(x_{i+1}; σ_{i+1}))/σ_{i+1}
 *                    x_{i+1} = x̂_i + (σ_{i+1} − σ̂_i)·(d_i + d'_i)/2    (Heun correction)
 * D(x; σ) is the denoised estimate: the model sees x/√(σ² + 1) and the timestep of σ (the training
 * timestep with that σ by log-σ interpolation, or ¼·ln σ with timestep_type "continuous"), and its
 * output is read by prediction_type as in diffusers' Euler/Heun schedulers.
 *
 * In this SDK's step interface the model is called between steps, so the churn of step i+1 is applied
 * at the end of step i (ε_{i+1} is drawn there, only when γ_{i+1} > 0), and the churn of step 0 is folded
 * into the initial noise: x̂_0 = σ̂_0·z, which has the distribution of σ_0·z + √(σ̂_0² − σ_0²)·ε_0.
 * The plan has one entry per model evaluation (2 per step, 1 for the last), like diffusers' Heun.
 * ρ = 7; σ_min / σ_max default to the training schedule's smallest and largest sigma.
 */
export const KARRAS_HEUN_SPEC: ClassSpec = {
  num_train_timesteps: commonKeys.num_train_timesteps,
  beta_start: betaStart(0.0001),
  beta_end: betaEnd(0.02),
  beta_schedule: commonKeys.beta_schedule,
  trained_betas: commonKeys.trained_betas,
  prediction_type: commonKeys.prediction_type,
  sigma_min: num(null, { above: 0, nullable: true }),
  sigma_max: num(null, { above: 0, nullable: true }),
  rho: num(7.0, { above: 0 }),
  s_churn: num(0, { min: 0 }),
  s_tmin: num(0, { min: 0 }),
  s_tmax: num(null, { min: 0, nullable: true, allowInfinite: true }),
  s_noise: num(1, { min: 0 }),
  timestep_type: oneOf('discrete', ['discrete', 'continuous']),
}
registerClassSpec('KarrasHeunScheduler', KARRAS_HEUN_SPEC)

export interface KarrasHeunPlan extends SamplerPlan {
  /** the noise level of each model evaluation (σ̂_i or σ_{i+1}), then 0 */
  readonly sigmas: Float64Array
  /** σ_0..σ_{n−1}, 0: the Karras ladder */
  readonly ladder: Float64Array
  /** σ̂_i per step */
  readonly sigmaHats: Float64Array
  /** step i and stage (0: Euler at σ̂_i, 1: correction at σ_{i+1}) of each evaluation */
  readonly stepOf: Int32Array
  readonly stageOf: Int8Array
}

interface KarrasHeunState {
  plan: KarrasHeunPlan
  /** x̂ + (dt/2)·d of the Euler stage */
  half: Float32Array | null
}

export class KarrasHeunScheduler extends BaseSampler {
  readonly order = 2
  readonly schedule: NoiseSchedule
  private readonly logSigmas: Float64Array
  private readonly trainSigmas: Float64Array

  constructor(config: unknown = {}, options: ParseOptions = {}) {
    super('KarrasHeunScheduler', KARRAS_HEUN_SPEC, config, options)
    this.schedule = this.makeSchedule()
    this.trainSigmas = trainingSigmas(this.schedule.alphasCumprod)
    this.logSigmas = logSigmasF32(this.trainSigmas)
    const lo = this.cfg<number | null>('sigma_min')
    const hi = this.cfg<number | null>('sigma_max')
    if (lo !== null && hi !== null && !(hi > lo)) {
      throw new DiffuseError('INVALID_CONFIG', `Invalid KarrasHeunScheduler config: "sigma_max" (${hi}) must exceed "sigma_min" (${lo})`, {
        details: { className: this.className, key: 'sigma_max' },
      })
    }
  }

  /** γ_i of Algorithm 2 for noise level σ with n steps. */
  gamma(sigma: number, n: number): number {
    const tmax = this.cfg<number | null>('s_tmax') ?? Infinity
    return this.cfg<number>('s_tmin') <= sigma && sigma <= tmax ? Math.min(this.cfg<number>('s_churn') / n, Math.SQRT2 - 1) : 0
  }

  plan(numInferenceSteps: number): KarrasHeunPlan {
    const n = checkInferenceSteps(this.className, numInferenceSteps, 100_000)
    const sMin = this.cfg<number | null>('sigma_min') ?? this.trainSigmas[0]!
    const sMax = this.cfg<number | null>('sigma_max') ?? this.trainSigmas[this.trainSigmas.length - 1]!
    const ladder = [...karrasSigmas(sMin, sMax, n, this.cfg<number>('rho')), 0]
    const hats = ladder.slice(0, n).map((s) => s * (1 + this.gamma(s, n)))
    const evalSigmas: number[] = []
    const stepOf: number[] = []
    const stageOf: number[] = []
    for (let i = 0; i < n; i++) {
      evalSigmas.push(hats[i]!)
      stepOf.push(i)
      stageOf.push(0)
      if (ladder[i + 1]! > 0) {
        evalSigmas.push(ladder[i + 1]!)
        stepOf.push(i)
        stageOf.push(1)
      }
    }
    const continuous = this.cfg('timestep_type') === 'continuous'
    const timesteps = Float64Array.from(evalSigmas, (s) => (continuous ? 0.25 * Math.log(s) : sigmaToT(s, this.logSigmas)))
    return this.finishPlan({
      numInferenceSteps: n,
      timesteps,
      sigmas: Float64Array.from([...evalSigmas, 0]),
      ladder: Float64Array.from(ladder),
      sigmaHats: Float64Array.from(hats),
      stepOf: Int32Array.from(stepOf),
      stageOf: Int8Array.from(stageOf),
      initNoiseSigma: hats[0]!,
    })
  }

  protected override initialState(): Record<string, unknown> {
    return { half: null }
  }

  override scaleModelInput(sample: Float32Array, index: number, plan: SamplerPlan, _state: SamplerState): Float32Array {
    this.checkPlan(plan)
    this.checkIndex(index, plan)
    const s = plan.sigmas![index]!
    return scaled(sample, 1 / Math.sqrt(s * s + 1))
  }

  async step(input: StepInput): Promise<StepOutput> {
    const { n, batch } = this.checkStep(input)
    const { index, kernels, sample } = input
    const state = input.state as unknown as KarrasHeunState
    const plan = state.plan
    const i = plan.stepOf[index]!
    const steps = plan.numInferenceSteps
    const sigmaHat = plan.sigmaHats[i]!
    const sigmaNext = plan.ladder[i + 1]!
    const dt = sigmaNext - sigmaHat
    const pt = this.predictionType
    let x: Float32Array
    let denoised: Float32Array
    if (plan.stageOf[index] === 0) {
      const { a, b } = sigmaPredictionCoefficients(pt, sigmaHat)
      const r = await fusedUpdate(
        kernels,
        sample,
        input.modelOutput,
        batch,
        null,
        { predictionType: pt, alphaProdSqrt: a, betaProdSqrt: b, coefX0: -dt / sigmaHat, coefEps: 0, coefSample: 1 + dt / sigmaHat, coefNoise: 0 },
        true,
      )
      denoised = r.x0!
      if (sigmaNext > 0) {
        // the correction is x̂ + (dt/2)·d + (dt/2)·d': the first two terms are kept, so the correction
        // stage is one fused pass with them in the kernel's noise slot
        const half = new Float32Array(n)
        const k = dt / (2 * sigmaHat)
        for (let j = 0; j < n; j++) half[j] = sample[j]! + k * (sample[j]! - denoised[j]!)
        state.half = half
        return { prevSample: r.out, predOriginal: denoised }
      }
      x = r.out
    } else {
      if (!state.half) throw new DiffuseError('INVALID_ARGUMENT', `${this.className}: plan index ${index} is a correction stage, but its step's first stage did not run in this state`)
      const { a, b } = sigmaPredictionCoefficients(pt, sigmaNext)
      const k = dt / (2 * sigmaNext)
      const r = await fusedUpdate(kernels, sample, input.modelOutput, batch, state.half, { predictionType: pt, alphaProdSqrt: a, betaProdSqrt: b, coefX0: -k, coefEps: 0, coefSample: k, coefNoise: 1 }, true)
      x = r.out
      denoised = r.x0!
      state.half = null
    }
    // the churn of the next step (Algorithm 2, lines 5–6), before its model evaluation
    if (i + 1 < steps) {
      const s = plan.ladder[i + 1]!
      const sHat = plan.sigmaHats[i + 1]!
      if (sHat > s) {
        const z = input.generator.randn(input.shape)
        const k = this.cfg<number>('s_noise') * Math.sqrt(sHat * sHat - s * s)
        for (let j = 0; j < n; j++) x[j] = x[j]! + k * z[j]!
      }
    }
    return { prevSample: x, predOriginal: denoised }
  }

  addNoise(original: Float32Array, noise: Float32Array, index: number, plan: SamplerPlan): Float32Array {
    this.checkPlan(plan)
    this.checkIndex(index, plan)
    return addNoiseSigma(original, noise, plan.sigmas![index]!)
  }
}
