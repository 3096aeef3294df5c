import { DiffuseError } from '../../errors.js'
import type { NoiseSchedule } from '../schedules.js'
import { addNoise as forwardProcess } from '../schedules.js'
import { BaseSampler, checkInferenceSteps, combinedOutput } from './base.js'
import { betaEnd, betaStart, bool, commonKeys, oneOf, registerClassSpec, type ClassSpec, type ParseOptions } from './config.js'
import { npArange, npLinspace, roundHalfEven } from './numeric.js'
import type { SamplerPlan, StepInput, StepOutput } from './types.js'

/**
 * Pseudo numerical methods (PNDM, Liu et al. 2022) with diffusers' PNDMScheduler semantics.
 * The transfer from level t to level t' (eq. 11 of the paper, the "DDIM-like" map) is
 *   x_t' = √(ᾱ_t'/ᾱ_t)·x_t − (ᾱ_t' − ᾱ_t)·ε / (ᾱ_t·√(1−ᾱ_t') + √(ᾱ_t·(1−ᾱ_t)·ᾱ_t'))
 * and ε is combined from the history of model outputs:
 *  - PLMS (linear multistep, `skip_prk_steps`, Stable Diffusion 1.x's default): the first step is an
 *    Euler-like predictor whose second evaluation (same timestep, repeated in the plan) averages the two
 *    outputs; then Adams–Bashforth 2, 3 and 4: (3e₁−e₂)/2, (23e₁−16e₂+5e₃)/12, (55e₁−59e₂+37e₃−9e₄)/24.
 *  - PRK (pseudo Runge–Kutta) for the first 3 steps when skip_prk_steps is false: 4 evaluations per step
 *    at t, t − N/2n, t − N/2n, t − N/n, weighted 1/6, 1/3, 1/3, 1/6.
 */
export const PNDM_SPEC: ClassSpec = {
  num_train_timesteps: commonKeys.num_train_timesteps,
  beta_start: betaStart(0.0001),
  beta_end: betaEnd(0.02),
  beta_schedule: commonKeys.beta_schedule,
  trained_betas: commonKeys.trained_betas,
  skip_prk_steps: bool(false),
  set_alpha_to_one: bool(false),
  prediction_type: oneOf('epsilon', ['epsilon', 'v_prediction']),
  timestep_spacing: commonKeys.timestep_spacing,
  steps_offset: commonKeys.steps_offset,
}
registerClassSpec('PNDMScheduler', PNDM_SPEC)

interface PndmPlan extends SamplerPlan {
  readonly prkCount: number
}

interface PndmState {
  plan: PndmPlan
  ets: Float32Array[]
  counter: number
  curModelOutput: Float64Array | null
  curSample: Float32Array | null
}

const PNDM_ORDER = 4

export class PNDMScheduler extends BaseSampler {
  readonly order = 1
  readonly schedule: NoiseSchedule
  readonly finalAlphaCumprod: number

  constructor(config: unknown = {}, options: ParseOptions = {}) {
    super('PNDMScheduler', PNDM_SPEC, config, options)
    this.schedule = this.makeSchedule()
    this.finalAlphaCumprod = this.config['set_alpha_to_one'] === true ? 1 : this.schedule.alphasCumprod[0]!
  }

  plan(numInferenceSteps: number): SamplerPlan {
    const N = this.cfg<number>('num_train_timesteps')
    const n = checkInferenceSteps(this.className, numInferenceSteps, N)
    const spacing = this.cfg<string>('timestep_spacing')
    let base: number[] // ascending
    if (spacing === 'linspace') base = npLinspace(0, N - 1, n).map(roundHalfEven)
    else if (spacing === 'leading') {
      const ratio = Math.floor(N / n)
      base = npArange(0, n, 1).map((i) => i * ratio + this.cfg<number>('steps_offset'))
    } else {
      base = npArange(N, 0, -N / n)
        .map(roundHalfEven)
        .reverse()
        .map((v) => v - 1)
    }
    let prk: number[] = []
    let plms: number[]
    if (this.config['skip_prk_steps'] === true) {
      plms = [...base.slice(0, -1), ...base.slice(-2, -1), ...base.slice(-1)].reverse()
    } else {
      if (n < PNDM_ORDER) {
        throw new DiffuseError('INVALID_ARGUMENT', `${this.className} with PRK steps (skip_prk_steps false) needs at least ${PNDM_ORDER} steps; received ${n}`, {
          details: { argument: 'numInferenceSteps' },
        })
      }
      const half = Math.floor(Math.floor(N / n) / 2)
      const last = base.slice(-PNDM_ORDER)
      const rep: number[] = []
      for (let i = 0; i < last.length; i++) rep.push(last[i]! + 0, last[i]! + half)
      // prk_timesteps[:-1].repeat(2)[1:-1], reversed
      const r2: number[] = []
      for (const v of rep.slice(0, -1)) r2.push(v, v)
      prk = r2.slice(1, -1).reverse()
      plms = base.slice(0, -3).reverse()
    }
    const ts = [...prk, ...plms]
    this.checkTimestepRange(ts, N)
    const plan: PndmPlan = { numInferenceSteps: n, timesteps: Float64Array.from(ts), initNoiseSigma: 1, prkCount: prk.length }
    return this.finishPlan(plan)
  }

  protected override initialState(): Record<string, unknown> {
    return { ets: [], counter: 0, curModelOutput: null, curSample: null }
  }

  /** The PNDM transfer from level t to level prevT (eq. 11 of Liu et al.). */
  private prevSample(sample: Float32Array, t: number, prevT: number, eps: ArrayLike<number>): Float32Array {
    const a = this.schedule.alphasCumprod[t]!
    const aPrev = prevT >= 0 ? this.schedule.alphasCumprod[prevT]! : this.finalAlphaCumprod
    const b = 1 - a
    const bPrev = 1 - aPrev
    const sampleCoef = Math.sqrt(aPrev / a)
    const denom = a * Math.sqrt(bPrev) + Math.sqrt(a * b * aPrev)
    const epsCoef = (aPrev - a) / denom
    const v = this.predictionType === 'v_prediction'
    const sa = Math.sqrt(a)
    const sb = Math.sqrt(b)
    const out = new Float32Array(sample.length)
    for (let i = 0; i < out.length; i++) {
      // v-prediction: ε = √ᾱ·v + √(1−ᾱ)·x
      const e = v ? sa * eps[i]! + sb * sample[i]! : eps[i]!
      out[i] = sampleCoef * sample[i]! - epsCoef * e
    }
    return out
  }

  async step(input: StepInput): Promise<StepOutput> {
    const { n, batch } = this.checkStep(input)
    const state = input.state as unknown as PndmState
    const plan = state.plan
    const mo = await combinedOutput(input.modelOutput, input.kernels, batch)
    const t = plan.timesteps[input.index]!
    if (state.counter < plan.prkCount) return { prevSample: this.stepPrk(state, mo, t, input.sample, n) }
    return { prevSample: this.stepPlms(state, mo, t, input.sample) }
  }

  private stepPrk(state: PndmState, mo: Float32Array, t0: number, sample: Float32Array, n: number): Float32Array {
    const plan = state.plan
    const N = this.cfg<number>('num_train_timesteps')
    const half = Math.floor(Math.floor(N / plan.numInferenceSteps) / 2)
    const diffToPrev = state.counter % 2 ? 0 : half
    const prevT = t0 - diffToPrev
    const t = plan.timesteps[Math.floor(state.counter / 4) * 4]!
    let eps: ArrayLike<number> = mo
    const phase = state.counter % 4
    if (phase === 0) {
      state.curModelOutput = new Float64Array(n)
      for (let i = 0; i < n; i++) state.curModelOutput[i] = mo[i]! / 6
      state.ets.push(Float32Array.from(mo))
      state.curSample = sample
    } else if (phase === 1 || phase === 2) {
      const acc = state.curModelOutput!
      for (let i = 0; i < n; i++) acc[i] = acc[i]! + mo[i]! / 3
    } else {
      const acc = state.curModelOutput!
      const combined = new Float32Array(n)
      for (let i = 0; i < n; i++) combined[i] = acc[i]! + mo[i]! / 6
      eps = combined
      state.curModelOutput = null
    }
    const cur = state.curSample ?? sample
    const out = this.prevSample(cur, t, prevT, eps)
    state.counter++
    return out
  }

  private stepPlms(state: PndmState, mo: Float32Array, t0: number, sample0: Float32Array): Float32Array {
    const N = this.cfg<number>('num_train_timesteps')
    const ratio = Math.floor(N / state.plan.numInferenceSteps)
    let t = t0
    let prevT = t - ratio
    if (state.counter !== 1) {
      state.ets = state.ets.slice(-3)
      state.ets.push(Float32Array.from(mo))
    } else {
      prevT = t
      t = t + ratio
    }
    const ets = state.ets
    const L = ets.length
    const n = mo.length
    let sample = sample0
    let eps: Float32Array
    if (L === 1 && state.counter === 0) {
      eps = mo
      state.curSample = sample0
    } else if (L === 1 && state.counter === 1) {
      eps = new Float32Array(n)
      const e1 = ets[0]!
      for (let i = 0; i < n; i++) eps[i] = (mo[i]! + e1[i]!) / 2
      sample = state.curSample!
      state.curSample = null
    } else {
      eps = new Float32Array(n)
      const e1 = ets[L - 1]!
      const e2 = ets[L - 2]!
      if (L === 2) {
        for (let i = 0; i < n; i++) eps[i] = (3 * e1[i]! - e2[i]!) / 2
      } else if (L === 3) {
        const e3 = ets[L - 3]!
        for (let i = 0; i < n; i++) eps[i] = (23 * e1[i]! - 16 * e2[i]! + 5 * e3[i]!) / 12
      } else {
        const e3 = ets[L - 3]!
        const e4 = ets[L - 4]!
        for (let i = 0; i < n; i++) eps[i] = (1 / 24) * (55 * e1[i]! - 59 * e2[i]! + 37 * e3[i]! - 9 * e4[i]!)
      }
    }
    const out = this.prevSample(sample, t, prevT, eps)
    state.counter++
    return out
  }

  addNoise(original: Float32Array, noise: Float32Array, index: number, plan: SamplerPlan): Float32Array {
    this.checkPlan(plan)
    this.checkIndex(index, plan)
    return forwardProcess(original, noise, this.schedule.alphasCumprod[plan.timesteps[index]!]!)
  }
}
