import type { NoiseSchedule } from '../schedules.js'
import { trainingSigmas } from '../schedules.js'
import { BaseSampler, checkInferenceSteps, fusedUpdate, thresholdSample } from './base.js'
import { betaEnd, betaStart, bool, checkOneSigmaSpacing, commonKeys, int, num, oneOf, registerClassSpec, unsupportedOption, type ClassSpec, type ParseOptions } from './config.js'
import type { SigmaPlan } from './euler.js'
import { logSigmasF32 } from './k-sigmas.js'
import { exponentialSigmas, karrasSigmas, npInterpIndex, npLinspace, roundHalfEven, sigmaToT } from './numeric.js'
import { multistepTimesteps } from './spacing.js'
import type { SamplerPlan, StepInput, StepOutput } from './types.js'
import type { Kernels } from '../../native/kernels.js'

/**
 * Multistep DPM-Solver (Lu et al. 2022, arXiv 2206.00927) and DPM-Solver++ (arXiv 2211.01095), with
 * diffusers' DPMSolverMultistepScheduler semantics. With α = 1/√(σ²+1), σ_t = σ·α, λ = ln α − ln σ_t
 * and h = λ_t − λ_s:
 *  - dpmsolver++ (data prediction D = x0):
 *      order 1  x_t = σ_t/σ_s·x − α_t(e^−h − 1)·D0
 *      order 2  … − ½α_t(e^−h − 1)·D1 (midpoint) or + α_t((e^−h − 1)/h + 1)·D1 (heun)
 *      order 3  … + α_t((e^−h − 1)/h + 1)·D1 − α_t((e^−h − 1 + h)/h² − ½)·D2
 *    with D1 = (m0 − m1)/r0 (order 2), and for order 3 D1 = D1₀ + r0/(r0+r1)(D1₀ − D1₁),
 *    D2 = (D1₀ − D1₁)/(r0+r1), D1₀ = (m0−m1)/r0, D1₁ = (m1−m2)/r1, r_k = h_k/h.
 *  - sde-dpmsolver++: x_t = σ_t/σ_s·e^−h·x + α_t(1 − e^−2h)·D0 + … + σ_t√(1 − e^−2h)·z, z drawn every step.
 *  - dpmsolver / sde-dpmsolver (noise prediction), the paper's formulas in ε.
 * Lower orders are used for the first steps (warm-up), and at the end with lower_order_final (< 15
 * steps), euler_at_final, or whenever the final sigma is zero.
 */
export const DPM_SPEC: ClassSpec = {
  num_train_timesteps: commonKeys.num_train_timesteps,
  beta_start: betaStart(0.0001),
  beta_end: betaEnd(0.02),
  beta_schedule: commonKeys.beta_schedule,
  trained_betas: commonKeys.trained_betas,
  solver_order: int(2, 1, 3),
  prediction_type: commonKeys.prediction_type,
  thresholding: commonKeys.thresholding,
  dynamic_thresholding_ratio: commonKeys.dynamic_thresholding_ratio,
  sample_max_value: commonKeys.sample_max_value,
  algorithm_type: oneOf('dpmsolver++', ['dpmsolver', 'dpmsolver++', 'sde-dpmsolver', 'sde-dpmsolver++', 'deis']),
  solver_type: oneOf('midpoint', ['midpoint', 'heun', 'logrho', 'bh1', 'bh2']),
  lower_order_final: bool(true),
  euler_at_final: bool(false),
  use_karras_sigmas: bool(false),
  use_exponential_sigmas: bool(false),
  use_beta_sigmas: bool(false),
  use_lu_lambdas: bool(false),
  use_flow_sigmas: bool(false),
  flow_shift: num(1.0, { above: 0 }),
  final_sigmas_type: oneOf('zero', ['zero', 'sigma_min']),
  lambda_min_clipped: num(-Infinity, { allowInfinite: true, nullable: true }),
  variance_type: oneOf(null, ['learned', 'learned_range'], true),
  timestep_spacing: oneOf('linspace', ['linspace', 'leading', 'trailing']),
  steps_offset: commonKeys.steps_offset,
  rescale_betas_zero_snr: commonKeys.rescale_betas_zero_snr,
  use_dynamic_shifting: bool(false),
  time_shift_type: oneOf('exponential', ['exponential', 'linear']),
}
registerClassSpec('DPMSolverMultistepScheduler', DPM_SPEC)

interface DpmState {
  plan: SigmaPlan
  /** converted model outputs, newest last (at most solver_order) */
  outputs: Float32Array[]
  /** the plan indices they were computed at */
  outputIndices: number[]
  lowerOrderNums: number
}

/** α_t and σ_t of the VP process at k-diffusion noise level σ. */
export function alphaSigma(sigma: number): { alpha: number; sigmaT: number } {
  const alpha = 1 / Math.sqrt(sigma * sigma + 1)
  return { alpha, sigmaT: sigma * alpha }
}

/** The forward process at a k-diffusion σ in the multistep solvers' (α_t, σ_t) form, float32 coefficients as diffusers. */
export function addNoiseAtSigma(original: Float32Array, noise: Float32Array, sigma: number): Float32Array {
  const { alpha, sigmaT } = alphaSigma(sigma)
  const a = Math.fround(alpha)
  const s = Math.fround(sigmaT)
  const out = new Float32Array(original.length)
  for (let i = 0; i < out.length; i++) out[i] = a * original[i]! + s * noise[i]!
  return out
}

export function lambdaOf(sigma: number): number {
  const { alpha, sigmaT } = alphaSigma(sigma)
  return Math.log(alpha) - Math.log(sigmaT)
}

export class DPMSolverMultistepScheduler extends BaseSampler {
  readonly order = 1
  readonly schedule: NoiseSchedule
  /** the training schedule's ᾱ after the zero-SNR fix (ᾱ_T = 2^-24) */
  private readonly alphasCumprodUsed: Float64Array

  constructor(config: unknown = {}, options: ParseOptions = {}) {
    super('DPMSolverMultistepScheduler', DPM_SPEC, normalizeDpmConfig(config), options)
    const c = this.config
    checkOneSigmaSpacing(this.className, c)
    for (const key of ['use_beta_sigmas', 'use_flow_sigmas', 'use_dynamic_shifting']) if (c[key] === true) throw unsupportedOption(this.className, key, true)
    if (c['variance_type'] !== null) throw unsupportedOption(this.className, 'variance_type', c['variance_type'], 'not supported: it needs a model that outputs twice the channels')
    const algo = this.cfg<string>('algorithm_type')
    if (algo !== 'dpmsolver++' && algo !== 'sde-dpmsolver++' && c['final_sigmas_type'] === 'zero') {
      throw unsupportedOption(this.className, 'final_sigmas_type', 'zero', `not supported with algorithm_type "${algo}" (choose "sigma_min")`)
    }
    if (algo === 'sde-dpmsolver' && this.cfg<number>('solver_order') === 3) {
      throw unsupportedOption(this.className, 'solver_order', 3, 'not supported with algorithm_type "sde-dpmsolver" (diffusers has no third-order update for it)')
    }
    this.schedule = this.makeSchedule()
    const ac = Float64Array.from(this.schedule.alphasCumprod)
    if (c['rescale_betas_zero_snr'] === true) ac[ac.length - 1] = 2 ** -24
    this.alphasCumprodUsed = ac
  }

  plan(numInferenceSteps: number): SigmaPlan {
    const N = this.cfg<number>('num_train_timesteps')
    const n = checkInferenceSteps(this.className, numInferenceSteps, N)
    const f = Math.fround
    const ac = this.alphasCumprodUsed
    // λ_t in float32; searchsorted over the flipped (increasing) λ for lambda_min_clipped
    const lambdaMin = this.cfg<number | null>('lambda_min_clipped') ?? -Infinity
    let clipped = 0
    for (let i = ac.length - 1; i >= 0; i--) {
      const lam = f(f(Math.log(f(Math.sqrt(ac[i]!)))) - f(Math.log(f(Math.sqrt(f(1 - ac[i]!))))))
      if (lam < lambdaMin) clipped++
      else break
    }
    const lastTimestep = N - clipped
    let ts = multistepTimesteps(this.cfg('timestep_spacing'), N, lastTimestep, n, this.cfg('steps_offset'))
    const train = trainingSigmas(ac)
    const logSigmas = logSigmasF32(train)
    let sigmas: number[]
    const cosine = this.cfg('beta_schedule') === 'squaredcos_cap_v2'
    const sMin = train[0]!
    const sMax = train[train.length - 1]!
    if (this.config['use_karras_sigmas'] === true) {
      sigmas = karrasSigmas(sMin, sMax, n)
      ts = sigmas.map((s) => sigmaToT(s, logSigmas)).map((t) => (cosine ? t : roundHalfEven(t)))
    } else if (this.config['use_lu_lambdas'] === true) {
      // diffusers' Lu et al. ladder: uniform in log σ between the training ends
      const lambdas = npLinspace(logSigmas[logSigmas.length - 1]!, logSigmas[0]!, n)
      sigmas = lambdas.map((l) => Math.exp(l))
      ts = sigmas.map((s) => sigmaToT(s, logSigmas)).map((t) => (cosine ? t : roundHalfEven(t)))
    } else if (this.config['use_exponential_sigmas'] === true) {
      sigmas = exponentialSigmas(sMin, sMax, n)
      ts = sigmas.map((s) => sigmaToT(s, logSigmas))
    } else {
      sigmas = ts.map((t) => npInterpIndex(t, train))
    }
    const a0 = ac[0]!
    const last = this.cfg('final_sigmas_type') === 'sigma_min' ? Math.sqrt((1 - a0) / a0) : 0
    const planSigmas = Float64Array.from([...sigmas, last], (s) => f(s))
    // torch .to(int64) truncates toward zero
    this.checkTimestepRange(ts.map(Math.trunc), N)
    return this.finishPlan({ numInferenceSteps: n, timesteps: Float64Array.from(ts, Math.trunc), sigmas: planSigmas, initNoiseSigma: 1 })
  }

  protected override initialState(): Record<string, unknown> {
    return { outputs: [], outputIndices: [], lowerOrderNums: 0 }
  }

  /** The model output converted to what the algorithm integrates: x0 (++ variants) or ε; thresholded. */
  private async convert(kernels: Kernels, input: StepInput, batch: number, sigma: number): Promise<Float32Array> {
    const { alpha, sigmaT } = alphaSigma(sigma)
    const dataPrediction = this.cfg<string>('algorithm_type').endsWith('++')
    const p = { predictionType: this.predictionType, alphaProdSqrt: alpha, betaProdSqrt: sigmaT, coefSample: 0, coefNoise: 0 }
    const thresholding = this.config['thresholding'] === true
    if (dataPrediction || thresholding) {
      const x0 = (await fusedUpdate(kernels, input.sample, input.modelOutput, batch, null, { ...p, coefX0: 1, coefEps: 0 }, false)).out
      if (thresholding) thresholdSample(x0, batch, this.cfg('dynamic_thresholding_ratio'), this.cfg('sample_max_value'))
      if (dataPrediction) return x0
      const eps = new Float32Array(x0.length)
      for (let i = 0; i < eps.length; i++) eps[i] = (input.sample[i]! - alpha * x0[i]!) / sigmaT
      return eps
    }
    return (await fusedUpdate(kernels, input.sample, input.modelOutput, batch, null, { ...p, coefX0: 0, coefEps: 1 }, false)).out
  }

  async step(input: StepInput): Promise<StepOutput> {
    const { n, batch } = this.checkStep(input)
    const { index, kernels, sample } = input
    const state = input.state as unknown as DpmState
    const plan = state.plan
    const sigmas = plan.sigmas
    const len = plan.timesteps.length
    const order = this.cfg<number>('solver_order')
    const lof = this.config['lower_order_final'] === true
    const lowerOrderFinal = index === len - 1 && (this.config['euler_at_final'] === true || (lof && len < 15) || this.config['final_sigmas_type'] === 'zero')
    const lowerOrderSecond = index === len - 2 && lof && len < 15
    const algo = this.cfg<string>('algorithm_type')
    const sde = algo.startsWith('sde-')
    let useOrder: number
    if (order === 1 || state.lowerOrderNums < 1 || lowerOrderFinal) useOrder = 1
    else if (order === 2 || state.lowerOrderNums < 2 || lowerOrderSecond) useOrder = 2
    else useOrder = 3
    const w = this.updateWeights(algo, useOrder, sigmas, index)
    // the outputs of the previous steps (this step's joins them below)
    const L = state.outputs.length
    const m1 = useOrder >= 2 ? state.outputs[L - 1]! : null
    const m2 = useOrder >= 3 ? state.outputs[L - 2]! : null
    let m0: Float32Array
    let out: Float32Array
    const noise = sde ? input.generator.randn(input.shape) : null
    const extra: [number, Float32Array][] = []
    if (m1) extra.push([w.m1, m1])
    if (m2) extra.push([w.m2, m2])
    if (noise) extra.push([w.noise, noise])
    // measured (bench/samplers.ts): worth it up to two extra terms; with three the pre-sum costs what
    // the fused pass saves
    if (algo.endsWith('++') && this.config['thresholding'] !== true && extra.length <= 2) {
      // data prediction: x_t = w_x·x + w_0·x0(model output) + [w_1·m1 + w_2·m2 + c_z·z], one fused pass
      // that also returns x0 (this step's m0); the bracket, when it has two terms, is summed first and
      // handed to the kernel in its noise slot
      const { alpha, sigmaT } = alphaSigma(sigmas[index]!)
      let aux: Float32Array | null = null
      let auxCoef = 0
      if (extra.length === 1) [auxCoef, aux] = extra[0]!
      else if (extra.length === 2) {
        aux = new Float32Array(n)
        auxCoef = 1
        const [c1, a1] = extra[0]!
        const [c2, a2] = extra[1]!
        for (let i = 0; i < n; i++) aux[i] = c1 * a1[i]! + c2 * a2[i]!
      }
      const r = await fusedUpdate(
        kernels,
        sample,
        input.modelOutput,
        batch,
        aux,
        { predictionType: this.predictionType, alphaProdSqrt: alpha, betaProdSqrt: sigmaT, coefX0: w.m0, coefEps: 0, coefSample: w.sample, coefNoise: auxCoef },
        true,
      )
      out = r.out
      m0 = r.x0!
    } else {
      m0 = await this.convert(kernels, input, batch, sigmas[index]!)
      out = new Float32Array(n)
      for (let i = 0; i < n; i++) {
        let v = w.sample * sample[i]! + w.m0 * m0[i]!
        if (m1) v += w.m1 * m1[i]!
        if (m2) v += w.m2 * m2[i]!
        if (noise) v += w.noise * noise[i]!
        out[i] = v
      }
    }
    state.outputs.push(m0)
    state.outputIndices.push(index)
    if (state.outputs.length > order) {
      state.outputs.shift()
      state.outputIndices.shift()
    }
    if (state.lowerOrderNums < order) state.lowerOrderNums++
    return { prevSample: out, ...(algo.endsWith('++') ? { predOriginal: m0 } : {}) }
  }

  /**
   * The update as weights on x, m0, m1, m2 and the noise (the D0/D1/D2 combinations of diffusers'
   * first/second/third order updates, expanded).
   */
  updateWeights(algo: string, order: number, sigmas: ArrayLike<number>, index: number): { sample: number; m0: number; m1: number; m2: number; noise: number } {
    const { alpha: at, sigmaT: st } = alphaSigma(sigmas[index + 1]!)
    const { alpha: as0, sigmaT: ss0 } = alphaSigma(sigmas[index]!)
    const lt = Math.log(at) - Math.log(st)
    const ls0 = Math.log(as0) - Math.log(ss0)
    const h = lt - ls0
    const emh = Math.exp(-h) // e^−h
    const eh = Math.exp(h)
    const solverType = this.cfg<string>('solver_type')
    let cS: number
    let cN = 0
    // coefficients of D0, D1, D2
    let c0: number
    let c1 = 0
    let c2 = 0
    if (algo === 'dpmsolver++') {
      cS = st / ss0
      c0 = -at * (emh - 1)
      if (order === 2) c1 = solverType === 'heun' ? at * ((emh - 1) / h + 1) : -0.5 * at * (emh - 1)
      if (order === 3) {
        c1 = at * ((emh - 1) / h + 1)
        c2 = -at * ((emh - 1 + h) / (h * h) - 0.5)
      }
    } else if (algo === 'dpmsolver') {
      cS = at / as0
      c0 = -st * (eh - 1)
      if (order === 2) c1 = solverType === 'heun' ? -st * ((eh - 1) / h - 1) : -0.5 * st * (eh - 1)
      if (order === 3) {
        c1 = -st * ((eh - 1) / h - 1)
        c2 = -st * ((eh - 1 - h) / (h * h) - 0.5)
      }
    } else if (algo === 'sde-dpmsolver++') {
      const e2 = Math.exp(-2 * h)
      cS = (st / ss0) * emh
      c0 = at * (1 - e2)
      cN = st * Math.sqrt(1 - e2)
      if (order === 2) c1 = solverType === 'heun' ? at * ((1 - e2) / (-2 * h) + 1) : 0.5 * at * (1 - e2)
      if (order === 3) {
        c1 = at * ((1 - e2) / (-2 * h) + 1)
        c2 = at * ((1 - e2 - 2 * h) / (2 * h) ** 2 - 0.5)
      }
    } else {
      // sde-dpmsolver
      cS = at / as0
      c0 = -2 * st * (eh - 1)
      cN = st * Math.sqrt(Math.exp(2 * h) - 1)
      if (order === 2) c1 = solverType === 'heun' ? -2 * st * ((eh - 1) / h - 1) : -st * (eh - 1)
    }
    if (order === 1) return { sample: cS, m0: c0, m1: 0, m2: 0, noise: cN }
    const ls1 = lambdaOf(sigmas[index - 1]!)
    const h0 = ls0 - ls1
    const r0 = h0 / h
    if (order === 2) {
      // D0 = m0, D1 = (m0 − m1)/r0
      return { sample: cS, m0: c0 + c1 / r0, m1: -c1 / r0, m2: 0, noise: cN }
    }
    const ls2 = lambdaOf(sigmas[index - 2]!)
    const h1 = ls1 - ls2
    const r1 = h1 / h
    // D1_0 = (m0 − m1)/r0, D1_1 = (m1 − m2)/r1
    // D1 = D1_0 + r0/(r0+r1)·(D1_0 − D1_1), D2 = (D1_0 − D1_1)/(r0+r1)
    const k = r0 / (r0 + r1)
    const q = 1 / (r0 + r1)
    // in terms of D1_0 and D1_1
    const a10 = c1 * (1 + k) + c2 * q
    const a11 = -c1 * k - c2 * q
    return {
      sample: cS,
      m0: c0 + a10 / r0,
      m1: -a10 / r0 + a11 / r1,
      m2: -a11 / r1,
      noise: cN,
    }
  }

  addNoise(original: Float32Array, noise: Float32Array, index: number, plan: SamplerPlan): Float32Array {
    this.checkPlan(plan)
    this.checkIndex(index, plan)
    return addNoiseAtSigma(original, noise, plan.sigmas![index]!)
  }
}

/** diffusers' __init__ remaps: algorithm_type "deis" → "dpmsolver++", solver_type logrho/bh1/bh2 → "midpoint". */
function normalizeDpmConfig(config: unknown): unknown {
  if (!config || typeof config !== 'object' || Array.isArray(config)) return config
  const c = { ...(config as Record<string, unknown>) }
  if (c['algorithm_type'] === 'deis') c['algorithm_type'] = 'dpmsolver++'
  if (c['solver_type'] === 'logrho' || c['solver_type'] === 'bh1' || c['solver_type'] === 'bh2') c['solver_type'] = 'midpoint'
  return c
}
