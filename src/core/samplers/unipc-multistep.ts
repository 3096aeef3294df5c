import type { Kernels } from '../../native/kernels.js'
import type { NoiseSchedule } from '../schedules.js'
import { trainingSigmas } from '../schedules.js'
import { BaseSampler, checkInferenceSteps, fusedUpdate, thresholdSample } from './base.js'
import { betaEnd, betaStart, bool, checkOneSigmaSpacing, commonKeys, int, num, oneOf, registerClassSpec, unsupportedOption, type ClassSpec, type ParseOptions } from './config.js'
import { addNoiseAtSigma, alphaSigma, lambdaOf } from './dpm-solver-multistep.js'
import type { SigmaPlan } from './euler.js'
import { logSigmasF32 } from './k-sigmas.js'
import { exponentialSigmas, karrasSigmas, npInterpIndex, roundHalfEven, sigmaToT, solveLinear } from './numeric.js'
import { multistepTimesteps } from './spacing.js'
import type { SamplerPlan, StepInput, StepOutput } from './types.js'

/**
 * UniPC (Zhao et al. 2023, arXiv 2302.04867), diffusers' UniPCMultistepScheduler: a multistep
 * predictor (UniP) and a corrector (UniC) that reuses the next model evaluation. With
 * hh = −h (data prediction) or h, φ₁ = e^hh − 1, B(h) = hh (bh1) or e^hh − 1 (bh2), ratios
 * r_k = (λ_{s_k} − λ_{s_0})/h and D_k = (m_k − m_0)/r_k:
 *   predictor  x_t = σ_t/σ_s·x − α_t·φ₁·m0 − α_t·B(h)·Σ ρ^p_k·D_k
 *   corrector  x_t = σ_t/σ_s·x − α_t·φ₁·m0 − α_t·B(h)·(Σ ρ^c_k·D_k + ρ^c_K·(m_t − m0))
 * where ρ solve R·ρ = b with R_ik = r_k^(i−1), b_i = h·φ_{i+1}(h)·i!/B(h) (ρ^p = ½ for order 2,
 * ρ^c = ½ for order 1). Noise-prediction mode (predict_x0 false) swaps α and σ as in the paper.
 * One deliberate difference: with bh1 and a final σ of 0, the last (first-order) predictor has no
 * history term, and B(h) = hh = −∞ there; diffusers multiplies it by 0 and returns NaN, this lands on
 * the data prediction m0, as bh2 does.
 */
export const UNIPC_SPEC: ClassSpec = {
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
  predict_x0: bool(true),
  solver_type: oneOf('bh2', ['bh1', 'bh2', 'midpoint', 'heun', 'logrho']),
  lower_order_final: bool(true),
  disable_corrector: { type: { kind: 'intArray', min: 0 }, default: [] },
  solver_p: { type: { kind: 'enum', values: [] }, default: null, nullable: true },
  use_karras_sigmas: bool(false),
  use_exponential_sigmas: bool(false),
  use_beta_sigmas: bool(false),
  use_flow_sigmas: bool(false),
  flow_shift: num(1.0, { above: 0 }),
  timestep_spacing: oneOf('linspace', ['linspace', 'leading', 'trailing']),
  steps_offset: commonKeys.steps_offset,
  final_sigmas_type: oneOf('zero', ['zero', 'sigma_min']),
  rescale_betas_zero_snr: commonKeys.rescale_betas_zero_snr,
}
registerClassSpec('UniPCMultistepScheduler', UNIPC_SPEC)

interface UniPcState {
  plan: SigmaPlan
  outputs: Float32Array[]
  lastSample: Float32Array | null
  thisOrder: number
  lowerOrderNums: number
}

type Term = readonly [number, ArrayLike<number>]

function combine(terms: readonly Term[], n: number): Float32Array {
  const out = new Float64Array(n)
  for (const [c, a] of terms) {
    if (c === 0) continue
    for (let i = 0; i < n; i++) out[i] = out[i]! + c * a[i]!
  }
  return Float32Array.from(out)
}

export class UniPCMultistepScheduler extends BaseSampler {
  readonly order = 1
  readonly schedule: NoiseSchedule
  private readonly alphasCumprodUsed: Float64Array

  constructor(config: unknown = {}, options: ParseOptions = {}) {
    super('UniPCMultistepScheduler', UNIPC_SPEC, normalizeUniPcConfig(config), options)
    const c = this.config
    checkOneSigmaSpacing(this.className, c)
    for (const key of ['use_beta_sigmas', 'use_flow_sigmas']) if (c[key] === true) throw unsupportedOption(this.className, key, true)
    // A last step to σ = 0 has h = ∞. diffusers then returns NaN or ±∞ (which the loop would report as
    // NON_FINITE at the last step), so these combinations are refused up front:
    if (c['final_sigmas_type'] === 'zero') {
      if (c['predict_x0'] !== true) {
        throw unsupportedOption(this.className, 'final_sigmas_type', 'zero', 'not supported with predict_x0 false: the last step multiplies σ_t = 0 by φ₁(h) = ∞; choose "sigma_min"')
      }
      if (c['lower_order_final'] !== true && this.cfg<number>('solver_order') > 1) {
        throw unsupportedOption(
          this.className,
          'final_sigmas_type',
          'zero',
          'not supported with lower_order_final false and solver_order > 1: a multistep update to σ = 0 divides by r_k = 0; choose "sigma_min" or lower_order_final true',
        )
      }
    }
    this.schedule = this.makeSchedule()
    const ac = Float64Array.from(this.schedule.alphasCumprod)
    if (c['rescale_betas_zero_snr'] === true) ac[ac.length - 1] = 2 ** -24
    this.alphasCumprodUsed = ac
  }

  plan(numInferenceSteps: number): SigmaPlan {
    const N = this.cfg<number>('num_train_timesteps')
    const n = checkInferenceSteps(this.className, numInferenceSteps, N)
    const ac = this.alphasCumprodUsed
    let ts = multistepTimesteps(this.cfg('timestep_spacing'), N, N, n, this.cfg('steps_offset'))
    const train = trainingSigmas(ac)
    const logSigmas = logSigmasF32(train)
    const sMin = train[0]!
    const sMax = train[train.length - 1]!
    let sigmas: number[]
    let ladderLast: number | null = null
    if (this.config['use_karras_sigmas'] === true) {
      sigmas = karrasSigmas(sMin, sMax, n)
      ts = sigmas.map((s) => roundHalfEven(sigmaToT(s, logSigmas)))
      ladderLast = sigmas[sigmas.length - 1]!
    } else if (this.config['use_exponential_sigmas'] === true) {
      sigmas = exponentialSigmas(sMin, sMax, n)
      ts = sigmas.map((s) => sigmaToT(s, logSigmas))
      ladderLast = sigmas[sigmas.length - 1]!
    } else {
      sigmas = ts.map((t) => npInterpIndex(t, train))
    }
    const a0 = ac[0]!
    const last = this.cfg('final_sigmas_type') === 'sigma_min' ? (ladderLast ?? Math.sqrt((1 - a0) / a0)) : 0
    const timesteps = ts.map(Math.trunc)
    this.checkTimestepRange(timesteps, N)
    return this.finishPlan({
      numInferenceSteps: n,
      timesteps: Float64Array.from(timesteps),
      sigmas: Float64Array.from([...sigmas, last], (s) => Math.fround(s)),
      initNoiseSigma: 1,
    })
  }

  protected override initialState(): Record<string, unknown> {
    return { outputs: [], lastSample: null, thisOrder: 0, lowerOrderNums: 0 }
  }

  private async convert(kernels: Kernels, input: StepInput, batch: number, sigma: number): Promise<Float32Array> {
    const { alpha, sigmaT } = alphaSigma(sigma)
    const dataPrediction = this.config['predict_x0'] === true
    const thresholding = this.config['thresholding'] === true
    const p = { predictionType: this.predictionType, alphaProdSqrt: alpha, betaProdSqrt: sigmaT, coefSample: 0, coefNoise: 0 }
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

  /** hh, φ₁, B(h) and the b vector of the order conditions, for a step of log-SNR length h. */
  private phis(h: number, order: number): { hh: number; phi1: number; Bh: number; b: number[] } {
    const hh = this.config['predict_x0'] === true ? -h : h
    const phi1 = Math.expm1(hh)
    let hPhiK = phi1 / hh - 1
    let factorial = 1
    const Bh = this.cfg('solver_type') === 'bh1' ? hh : Math.expm1(hh)
    const b: number[] = []
    for (let i = 1; i <= order; i++) {
      b.push((hPhiK * factorial) / Bh)
      factorial *= i + 1
      hPhiK = hPhiK / hh - 1 / factorial
    }
    return { hh, phi1, Bh, b }
  }

  /**
   * The shared part of both updates: x_t_ and the (coefficient, D_k) terms, for a step from
   * sigmas[s0] to sigmas[t] with history outputs ms (ms[0] = m0, the newest) at sigma indices idx.
   */
  private frame(sigmas: ArrayLike<number>, t: number, s0: number, idx: number[], order: number) {
    const { alpha: at, sigmaT: st } = alphaSigma(sigmas[t]!)
    const { alpha: as0, sigmaT: ss0 } = alphaSigma(sigmas[s0]!)
    const lt = Math.log(at) - Math.log(st)
    const ls0 = Math.log(as0) - Math.log(ss0)
    const h = lt - ls0
    const rks: number[] = []
    for (let i = 1; i < order; i++) rks.push((lambdaOf(sigmas[idx[i - 1]!]!) - ls0) / h)
    const R: number[][] = []
    const allR = [...rks, 1]
    for (let i = 1; i <= order; i++) R.push(allR.map((r) => r ** (i - 1)))
    const { phi1, Bh, b } = this.phis(h, order)
    const x0Mode = this.config['predict_x0'] === true
    const cS = x0Mode ? st / ss0 : at / as0
    const scale = x0Mode ? at : st // α_t (data) or σ_t (noise) multiplies φ₁ and B(h)
    return { rks, R, b, phi1, Bh, cS, scale }
  }

  async step(input: StepInput): Promise<StepOutput> {
    const { n, batch } = this.checkStep(input)
    const { index, kernels } = input
    const state = input.state as unknown as UniPcState
    const plan = state.plan
    const sigmas = plan.sigmas
    const order = this.cfg<number>('solver_order')
    const disabled = this.cfg<readonly number[]>('disable_corrector')
    const useCorrector = index > 0 && !disabled.includes(index - 1) && state.lastSample !== null
    const mt = await this.convert(kernels, input, batch, sigmas[index]!)
    let sample = input.sample
    if (useCorrector) sample = this.corrector(state, sigmas, index, mt, state.lastSample!, n)
    state.outputs.push(mt)
    if (state.outputs.length > order) state.outputs.shift()
    const len = plan.timesteps.length
    let thisOrder = this.config['lower_order_final'] === true ? Math.min(order, len - index) : order
    thisOrder = Math.min(thisOrder, state.lowerOrderNums + 1)
    state.thisOrder = thisOrder
    state.lastSample = sample
    const prev = this.predictor(state, sigmas, index, sample, thisOrder, n)
    if (state.lowerOrderNums < order) state.lowerOrderNums++
    return { prevSample: prev, ...(this.config['predict_x0'] === true ? { predOriginal: mt } : {}) }
  }

  private predictor(state: UniPcState, sigmas: ArrayLike<number>, index: number, x: Float32Array, order: number, n: number): Float32Array {
    const outs = state.outputs
    const m0 = outs[outs.length - 1]!
    const idx: number[] = []
    for (let i = 1; i < order; i++) idx.push(index - i)
    const f = this.frame(sigmas, index + 1, index, idx, order)
    const terms: Term[] = [
      [f.cS, x],
      [-f.scale * f.phi1, m0],
    ]
    if (order >= 2) {
      const rhos = order === 2 ? [0.5] : solveLinear(f.R.slice(0, -1).map((r) => r.slice(0, -1)), f.b.slice(0, -1))
      // D_k = (m_k − m0)/r_k
      for (let k = 0; k < order - 1; k++) {
        const mk = outs[outs.length - 1 - (k + 1)]!
        const c = (-f.scale * f.Bh * rhos[k]!) / f.rks[k]!
        terms.push([c, mk], [-c, m0])
      }
    }
    return combine(terms, n)
  }

  private corrector(state: UniPcState, sigmas: ArrayLike<number>, index: number, mt: Float32Array, last: Float32Array, n: number): Float32Array {
    const order = state.thisOrder
    const outs = state.outputs // the history before this step's output joins it
    const m0 = outs[outs.length - 1]!
    const idx: number[] = []
    for (let i = 1; i < order; i++) idx.push(index - (i + 1))
    const f = this.frame(sigmas, index, index - 1, idx, order)
    const rhos = order === 1 ? [0.5] : solveLinear(f.R, f.b)
    const terms: Term[] = [
      [f.cS, last],
      [-f.scale * f.phi1, m0],
    ]
    for (let k = 0; k < order - 1; k++) {
      const mk = outs[outs.length - 1 - (k + 1)]!
      const c = (-f.scale * f.Bh * rhos[k]!) / f.rks[k]!
      terms.push([c, mk], [-c, m0])
    }
    const cT = -f.scale * f.Bh * rhos[rhos.length - 1]!
    terms.push([cT, mt], [-cT, m0])
    return combine(terms, n)
  }

  addNoise(original: Float32Array, noise: Float32Array, index: number, plan: SamplerPlan): Float32Array {
    this.checkPlan(plan)
    this.checkIndex(index, plan)
    return addNoiseAtSigma(original, noise, plan.sigmas![index]!)
  }
}

/** diffusers' __init__ remap: solver_type midpoint / heun / logrho → "bh2"; solver_p must be null here. */
function normalizeUniPcConfig(config: unknown): unknown {
  if (!config || typeof config !== 'object' || Array.isArray(config)) return config
  const c = { ...(config as Record<string, unknown>) }
  if (c['solver_type'] === 'midpoint' || c['solver_type'] === 'heun' || c['solver_type'] === 'logrho') c['solver_type'] = 'bh2'
  if (c['solver_p'] !== undefined && c['solver_p'] !== null) throw unsupportedOption('UniPCMultistepScheduler', 'solver_p', c['solver_p'])
  return c
}
