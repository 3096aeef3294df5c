import { DiffuseError, invalidArgument } from '../../errors.js'
import type { FusedStepParams, Kernels, PredictionType } from '../../native/kernels.js'
import { createNoiseSchedule, type BetaSchedule, type NoiseSchedule } from '../schedules.js'
import { shapeSize } from '../tensor.js'
import { parseConfig, registerClassSpec, type ClassSpec, type ParseOptions } from './config.js'
import { quantileLinear } from './numeric.js'
import type { ModelOutput, Sampler, SamplerPlan, SamplerState, SchedulerConfig, StepInput, StepOutput } from './types.js'

/**
 * What every sampler class shares: config parsing, the training schedule, plan/state bookkeeping and
 * step-input checks. Subclasses hold no mutable fields: a run's changing values live in its state.
 */

/** Tensors above this many values go through the kernels' async (worker thread) entry points. */
const ASYNC_THRESHOLD = 1 << 16

/** Plans are tagged with the sampler that made them, so that a plan from another sampler is refused. */
const planOwner = new WeakMap<object, Sampler>()

export interface RunState {
  readonly plan: SamplerPlan
}

export abstract class BaseSampler implements Sampler {
  readonly className: string
  readonly config: Readonly<SchedulerConfig>
  readonly predictionType: PredictionType
  abstract readonly order: number

  constructor(className: string, spec: ClassSpec, input: unknown, options: ParseOptions = {}) {
    registerClassSpec(className, spec)
    this.className = className
    this.config = parseConfig(className, spec, input, options)
    const p = this.config['prediction_type']
    this.predictionType = (typeof p === 'string' ? p : 'epsilon') as PredictionType
  }

  /** Typed access to a parsed config key. */
  protected cfg<T>(key: string): T {
    return this.config[key] as T
  }

  /** The training schedule from the beta keys of the config. */
  protected makeSchedule(): NoiseSchedule {
    const trained = this.cfg<readonly number[] | null>('trained_betas')
    const n = this.cfg<number>('num_train_timesteps')
    if (trained && trained.length !== n) {
      throw new DiffuseError(
        'INVALID_CONFIG',
        `Invalid ${this.className} config: "trained_betas" has ${trained.length} values but "num_train_timesteps" is ${n}`,
        { details: { className: this.className, key: 'trained_betas' } },
      )
    }
    if (trained && trained.length === 0) throw new DiffuseError('INVALID_CONFIG', `Invalid ${this.className} config: "trained_betas" is empty`)
    return createNoiseSchedule({
      numTrainTimesteps: n,
      betaStart: this.cfg<number>('beta_start'),
      betaEnd: this.cfg<number>('beta_end'),
      betaSchedule: this.cfg<BetaSchedule>('beta_schedule'),
      trainedBetas: trained,
      rescaleBetasZeroSnr: this.config['rescale_betas_zero_snr'] === true,
    })
  }

  abstract plan(numInferenceSteps: number): SamplerPlan

  /** Freezes a plan and tags it as this sampler's. */
  protected finishPlan<P extends SamplerPlan>(plan: P): P {
    Object.freeze(plan)
    planOwner.set(plan, this)
    return plan
  }

  createState(plan: SamplerPlan): SamplerState {
    this.checkPlan(plan)
    return { plan, ...this.initialState(plan) }
  }

  /** The per-run mutable fields of this sampler (history, stage...), fresh for each run. */
  protected initialState(_plan: SamplerPlan): Record<string, unknown> {
    return {}
  }

  scaleModelInput(sample: Float32Array, _index: number, plan: SamplerPlan, _state: SamplerState): Float32Array {
    this.checkPlan(plan)
    return sample
  }

  abstract step(input: StepInput): Promise<StepOutput>
  abstract addNoise(original: Float32Array, noise: Float32Array, index: number, plan: SamplerPlan): Float32Array

  toJSON(): SchedulerConfig {
    return { ...this.config } as SchedulerConfig
  }

  protected checkPlan(plan: SamplerPlan): void {
    if (!plan || typeof plan !== 'object' || planOwner.get(plan) !== this) {
      throw new DiffuseError('INVALID_ARGUMENT', `Expected a plan made by this ${this.className}'s plan() but received ${plan === null ? 'null' : typeof plan}`)
    }
  }

  /** Refuses plans whose timesteps fall outside the training schedule (e.g. too large a steps_offset). */
  protected checkTimestepRange(ts: readonly number[], numTrain: number): void {
    for (const t of ts) {
      if (!(t >= 0 && t <= numTrain - 1)) {
        throw new DiffuseError(
          'INVALID_ARGUMENT',
          `${this.className}: these steps give timestep ${t}, outside the training schedule [0, ${numTrain - 1}] (check steps_offset and timestep_spacing)`,
          { details: { argument: 'numInferenceSteps' } },
        )
      }
    }
  }

  protected checkIndex(index: unknown, plan: SamplerPlan): number {
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= plan.timesteps.length) {
      throw invalidArgument('index', `an integer in [0, ${plan.timesteps.length - 1}]`, index)
    }
    return index
  }

  /** Validates a step's input; returns the element count and batch size. */
  protected checkStep(input: StepInput): { n: number; batch: number } {
    if (!input || typeof input !== 'object') throw invalidArgument('input', 'a StepInput object', input)
    this.checkPlan(input.plan)
    this.checkIndex(input.index, input.plan)
    const state = input.state as Partial<RunState> | undefined
    if (!state || typeof state !== 'object' || state.plan !== input.plan) {
      throw new DiffuseError('INVALID_ARGUMENT', `Expected state to come from ${this.className}.createState(plan) for this plan`)
    }
    if (!Array.isArray(input.shape) || input.shape.length === 0 || !input.shape.every((d) => Number.isInteger(d) && d > 0)) {
      throw invalidArgument('shape', 'a non-empty array of positive integers', input.shape)
    }
    const n = shapeSize(input.shape)
    if (!(input.sample instanceof Float32Array) || input.sample.length !== n) {
      throw invalidArgument('sample', `a Float32Array of ${n} values (shape [${input.shape.join(', ')}])`, input.sample)
    }
    const mo = input.modelOutput
    if (mo instanceof Float32Array) {
      if (mo.length !== n) throw invalidArgument('modelOutput', `a Float32Array of ${n} values`, mo)
    } else if (mo && typeof mo === 'object') {
      if (!(mo.uncond instanceof Float32Array) || mo.uncond.length !== n) throw invalidArgument('modelOutput.uncond', `a Float32Array of ${n} values`, mo.uncond)
      if (!(mo.cond instanceof Float32Array) || mo.cond.length !== n) throw invalidArgument('modelOutput.cond', `a Float32Array of ${n} values`, mo.cond)
      if (typeof mo.scale !== 'number' || !Number.isFinite(mo.scale)) throw invalidArgument('modelOutput.scale', 'a finite number', mo.scale)
      if (typeof mo.rescale !== 'number' || !(mo.rescale >= 0)) throw invalidArgument('modelOutput.rescale', 'a number >= 0', mo.rescale)
    } else {
      throw invalidArgument('modelOutput', 'a Float32Array or guidance halves {uncond, cond, scale, rescale}', mo)
    }
    if (!input.generator || typeof input.generator.randn !== 'function') throw invalidArgument('generator', 'a Generator', input.generator)
    if (!input.kernels || typeof input.kernels.fusedStep !== 'function') throw invalidArgument('kernels', 'a Kernels implementation', input.kernels)
    return { n, batch: input.shape[0]! }
  }
}

/** The model output as one array: guidance halves are combined (uncond + w·(cond − uncond), rescaled). */
export async function combinedOutput(mo: ModelOutput, kernels: Kernels, batch: number): Promise<Float32Array> {
  if (mo instanceof Float32Array) return mo
  const out = new Float32Array(mo.cond.length)
  if (out.length >= ASYNC_THRESHOLD) await kernels.guidanceCombineAsync(mo.uncond, mo.cond, mo.scale, mo.rescale, batch, out)
  else kernels.guidanceCombine(mo.uncond, mo.cond, mo.scale, mo.rescale, batch, out)
  return out
}

/**
 * The fused kernel reads guidance halves itself when they sit back to back in one buffer (as the
 * sampling loop's batched model call leaves them) and no rescale is asked for; otherwise they are
 * combined first.
 */
async function fusedModelInput(mo: ModelOutput, kernels: Kernels, batch: number): Promise<{ data: Float32Array; guidanceScale: number | null }> {
  if (mo instanceof Float32Array) return { data: mo, guidanceScale: null }
  const n = mo.uncond.length
  if (
    mo.rescale === 0 &&
    mo.uncond.buffer === mo.cond.buffer &&
    mo.cond.byteOffset === mo.uncond.byteOffset + n * 4
  ) {
    return { data: new Float32Array(mo.uncond.buffer, mo.uncond.byteOffset, 2 * n), guidanceScale: mo.scale }
  }
  return { data: await combinedOutput(mo, kernels, batch), guidanceScale: null }
}

export type StepCoefficients = Omit<FusedStepParams, 'guidanceScale'>

/**
 * One fused update (see FusedStepParams) with guidance handled; returns the new sample and, when
 * asked, the x0 estimate.
 */
export async function fusedUpdate(
  kernels: Kernels,
  x: Float32Array,
  mo: ModelOutput,
  batch: number,
  noise: Float32Array | null,
  p: StepCoefficients,
  wantX0: boolean,
): Promise<{ out: Float32Array; x0: Float32Array | null }> {
  const { data, guidanceScale } = await fusedModelInput(mo, kernels, batch)
  const out = new Float32Array(x.length)
  const x0 = wantX0 ? new Float32Array(x.length) : null
  const params: FusedStepParams = { ...p, guidanceScale }
  if (x.length >= ASYNC_THRESHOLD) await kernels.fusedStepAsync(x, data, noise, params, out, x0)
  else kernels.fusedStep(x, data, noise, params, out, x0)
  return { out, x0 }
}

/**
 * x0 from the model output by prediction type with x = a·x0 + b·eps (VP: a = √ᾱ, b = √(1−ᾱ); the
 * k-diffusion form after input scaling uses a = 1, b = σ for epsilon): through the fused kernel.
 */
export async function predictX0(
  kernels: Kernels,
  x: Float32Array,
  mo: ModelOutput,
  batch: number,
  predictionType: PredictionType,
  a: number,
  b: number,
  clip: number | null = null,
): Promise<Float32Array> {
  const r = await fusedUpdate(kernels, x, mo, batch, null, { predictionType, alphaProdSqrt: a, betaProdSqrt: b, clipSample: clip, coefX0: 1, coefEps: 0, coefSample: 0, coefNoise: 0 }, false)
  return r.out
}

/**
 * Imagen's dynamic thresholding (Saharia et al. 2022), as diffusers' _threshold_sample: per batch item,
 * s = clamp(quantile(|x0|, ratio), 1, maxValue); x0 = clamp(x0, −s, s) / s. In place.
 */
export function thresholdSample(x0: Float32Array, batch: number, ratio: number, maxValue: number): void {
  const len = x0.length / batch
  for (let b = 0; b < batch; b++) {
    const item = x0.subarray(b * len, (b + 1) * len)
    const abs = new Float64Array(len)
    for (let i = 0; i < len; i++) abs[i] = Math.abs(item[i]!)
    let s = Math.fround(quantileLinear(abs, ratio))
    s = Math.min(Math.max(s, 1), maxValue)
    for (let i = 0; i < len; i++) {
      const v = item[i]!
      item[i] = (v > s ? s : v < -s ? -s : v) / s
    }
  }
}

/** The k-diffusion x0 of a VP-trained model given the unscaled x at noise level σ (diffusers' Euler family). */
export function sigmaPredictionCoefficients(predictionType: PredictionType, sigma: number): { a: number; b: number } {
  // epsilon: x0 = x − σ·eps; v: x0 = x/(σ²+1) − v·σ/√(σ²+1); sample: x0 = output
  if (predictionType === 'v_prediction') return { a: 1 / (sigma * sigma + 1), b: sigma / Math.sqrt(sigma * sigma + 1) }
  return { a: 1, b: sigma }
}

/** Validates a step count for plan(). */
export function checkInferenceSteps(className: string, n: unknown, max: number): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw invalidArgument('numInferenceSteps', 'an integer >= 1', n)
  if (n > max) {
    throw new DiffuseError('INVALID_ARGUMENT', `${className}: numInferenceSteps (${n}) cannot exceed ${max} (the training timesteps this config allows)`, {
      details: { argument: 'numInferenceSteps' },
    })
  }
  return n
}

/** sample·k elementwise into a new array. */
export function scaled(sample: Float32Array, k: number): Float32Array {
  const out = new Float32Array(sample.length)
  for (let i = 0; i < out.length; i++) out[i] = sample[i]! * k
  return out
}
