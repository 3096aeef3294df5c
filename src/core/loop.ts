import { DiffuseError } from '../errors.js'
import type { Kernels } from '../native/kernels.js'
import { getKernels } from '../native/loader.js'
import { checkFloat32Array, checkInteger, checkNumber, checkShape, checkSignal } from '../validate.js'
import { concatBatch, concatConditioning } from './batch.js'
import type { Conditioning, Denoiser } from './denoiser.js'
import type { Generator } from './rng/types.js'
import type { ModelOutput, Sampler, SamplerPlan } from './samplers/types.js'
import { firstNonFinite, floatData, floatTensor, shapeSize } from './tensor.js'

export interface StepProgress {
  /** model evaluations done so far in this run (1-based) */
  readonly step: number
  /** model evaluations this run makes in all */
  readonly total: number
  /** index into the sampler plan's timesteps */
  readonly index: number
  readonly timestep: number
  /** x after this step (a view: copy it to keep it) */
  readonly sample: Float32Array
  /** the sampler's current estimate of the clean sample, when it has one */
  readonly predOriginal?: Float32Array
}

export interface SampleOptions {
  denoiser: Denoiser
  sampler: Sampler
  /** number of inference steps (as diffusers' num_inference_steps) */
  steps: number
  /** shape of x, batch first: [B, ...] */
  shape: readonly number[]
  /** feeds the initial noise and every noise draw of the sampler, in diffusers' order */
  generator: Generator
  /** inputs of the conditional branch (or the only branch without guidance) */
  conditioning?: Conditioning
  /** inputs of the unconditional branch; with guidanceScale ≠ 1 this turns classifier-free guidance on */
  unconditional?: Conditioning
  guidanceScale?: number
  /** guidance rescale φ in [0, 1] (arXiv 2305.08891) */
  guidanceRescale?: number
  kernels?: Kernels
  signal?: AbortSignal
  onStep?: (progress: StepProgress) => void
  /** keep a copy of every step's clean-sample estimate (for previews of the denoising) */
  trajectory?: boolean
  /** img2img: start from `sample` noised to the level `strength` ∈ (0, 1] of the schedule */
  init?: { sample: Float32Array; strength: number }
  /**
   * inpainting: where mask is 1 the result is generated, where 0 it is `original`, blended at every step
   * with the original noised to the current level (mask has x's length, values in [0, 1])
   */
  inpaint?: { original: Float32Array; mask: Float32Array }
  /** initial noise to use instead of drawing it (e.g. slerp between two seeds); scaled by the plan's init sigma */
  noise?: Float32Array
  /** exact starting x (no noise, no scaling): DDIM inversion starts from data this way */
  start?: Float32Array
}

export interface SampleResult {
  readonly sample: Float32Array
  readonly shape: readonly number[]
  readonly modelEvaluations: number
  /** the timesteps this run evaluated the model at */
  readonly timesteps: readonly number[]
  readonly trajectory?: readonly Float32Array[]
}

function throwIfAborted(signal: AbortSignal | undefined, where: string): void {
  if (signal?.aborted) throw new DiffuseError('ABORTED', `Generation aborted ${where}`, { cause: signal.reason })
}

/** The first plan index an img2img run starts at, as diffusers' get_timesteps computes it. */
export function startIndexForStrength(steps: number, strength: number, order: number): number {
  const initTimestep = Math.min(Math.floor(steps * strength), steps)
  const tStart = Math.max(steps - initTimestep, 0)
  return tStart * order
}

/**
 * The sampling loop: noise → for each step (scale input, predict with optional guidance, sampler step)
 * → sample. Draws happen in a diffusers pipeline's order: initial noise first, then each step's noise.
 */
export async function sample(options: SampleOptions): Promise<SampleResult> {
  const { denoiser, sampler, generator, signal } = options
  if (!denoiser || typeof denoiser.predict !== 'function') throw new DiffuseError('INVALID_ARGUMENT', 'Expected options.denoiser to be a Denoiser')
  if (!sampler || typeof sampler.step !== 'function') throw new DiffuseError('INVALID_ARGUMENT', 'Expected options.sampler to be a Sampler')
  if (!generator || typeof generator.randn !== 'function') throw new DiffuseError('INVALID_ARGUMENT', 'Expected options.generator to be a Generator (philox(seed), torchCpu(seed), ...)')
  const steps = checkInteger('steps', options.steps, 1, 10000)
  const shape = checkShape('shape', options.shape)
  checkSignal('signal', signal)
  const size = shapeSize(shape)
  const batch = shape[0]!
  const guidanceScale = options.guidanceScale === undefined ? 1 : checkNumber('guidanceScale', options.guidanceScale, 0, 1000)
  const rescale = options.guidanceRescale === undefined ? 0 : checkNumber('guidanceRescale', options.guidanceRescale, 0, 1)
  const guided = options.unconditional !== undefined && guidanceScale !== 1
  if (denoiser.predictionType && denoiser.predictionType !== sampler.predictionType) {
    throw new DiffuseError(
      'INVALID_CONFIG',
      `The model predicts "${denoiser.predictionType}" but the sampler is configured for "${sampler.predictionType}": set prediction_type in the scheduler config`,
    )
  }
  const kernels = options.kernels ?? getKernels('auto')
  throwIfAborted(signal, 'before it started')

  const plan: SamplerPlan = sampler.plan(steps)
  const state = sampler.createState(plan)
  let startIndex = 0
  let x: Float32Array
  let inpaintNoise: Float32Array | undefined
  if (options.start) {
    x = Float32Array.from(checkFloat32Array('start', options.start, size))
  } else if (options.init) {
    const init = checkFloat32Array('init.sample', options.init.sample, size)
    const strength = checkNumber('init.strength', options.init.strength, 0, 1)
    startIndex = startIndexForStrength(steps, strength, sampler.order)
    if (startIndex >= plan.timesteps.length) {
      throw new DiffuseError('INVALID_ARGUMENT', `init.strength ${strength} with ${steps} steps leaves no step to run; raise the strength or the steps`)
    }
    const noise = options.noise ? checkFloat32Array('noise', options.noise, size) : generator.randn(shape)
    x = sampler.addNoise(init, noise, startIndex, plan)
    inpaintNoise = noise
  } else {
    const noise = options.noise ? checkFloat32Array('noise', options.noise, size) : generator.randn(shape)
    x = new Float32Array(size)
    const s = plan.initNoiseSigma
    for (let i = 0; i < size; i++) x[i] = noise[i]! * s
    inpaintNoise = noise
  }
  let inpaint: { original: Float32Array; mask: Float32Array; noise: Float32Array } | undefined
  if (options.inpaint) {
    const original = checkFloat32Array('inpaint.original', options.inpaint.original, size)
    const mask = checkFloat32Array('inpaint.mask', options.inpaint.mask, size)
    for (let i = 0; i < size; i++) {
      const m = mask[i]!
      if (!(m >= 0 && m <= 1)) throw new DiffuseError('INVALID_ARGUMENT', `inpaint.mask values must lie in [0, 1]; found ${m} at ${i}`)
    }
    inpaint = { original, mask, noise: inpaintNoise ?? generator.randn(shape) }
  }

  const cond: Conditioning = options.conditioning ?? {}
  const both = guided ? concatConditioning(options.unconditional!, cond) : cond
  const splitBatches = guided && denoiser.maxBatch !== undefined && denoiser.maxBatch < 2 * batch
  const trajectory: Float32Array[] | undefined = options.trajectory ? [] : undefined
  const timesteps: number[] = []
  const total = plan.timesteps.length - startIndex
  let evaluations = 0

  for (let index = startIndex; index < plan.timesteps.length; index++) {
    throwIfAborted(signal, `before step ${index - startIndex + 1} of ${total}`)
    const t = plan.timesteps[index]!
    const xin = sampler.scaleModelInput(x, index, plan, state)
    let modelOutput: ModelOutput
    if (guided) {
      let uncondOut: Float32Array
      let condOut: Float32Array
      if (splitBatches) {
        // both halves back to back in one buffer, as a batched call leaves them, so that samplers take
        // the same (fused) path and the result is bit-identical to the batched run
        const halves = new Float32Array(2 * size)
        halves.set(await predictChecked(denoiser, xin, shape, t, options.unconditional!, index), 0)
        halves.set(await predictChecked(denoiser, xin, shape, t, cond, index), size)
        uncondOut = halves.subarray(0, size)
        condOut = halves.subarray(size)
      } else {
        const xx = floatTensor(xin, shape)
        const out = await predictChecked(denoiser, concatBatch([xx, xx]).data as Float32Array, [2 * batch, ...shape.slice(1)], t, both, index)
        uncondOut = out.subarray(0, size)
        condOut = out.subarray(size)
      }
      modelOutput = { uncond: uncondOut, cond: condOut, scale: guidanceScale, rescale }
    } else {
      modelOutput = await predictChecked(denoiser, xin, shape, t, cond, index)
    }
    evaluations++
    timesteps.push(t)
    throwIfAborted(signal, `after step ${index - startIndex + 1} of ${total}`)
    const result = await sampler.step({ plan, state, index, sample: x, shape, modelOutput, generator, kernels })
    let next = result.prevSample
    const bad = firstNonFinite(next)
    if (bad >= 0) {
      throw new DiffuseError('NON_FINITE', `The sampler produced ${next[bad]} at element ${bad} in step ${index - startIndex + 1} (timestep ${t})`, {
        details: { step: index - startIndex + 1, timestep: t, element: bad },
      })
    }
    if (inpaint) next = blendInpaint(next, inpaint, index, plan, sampler)
    x = next
    if (trajectory) trajectory.push(Float32Array.from(result.predOriginal ?? x))
    options.onStep?.({ step: evaluations, total, index, timestep: t, sample: x, ...(result.predOriginal ? { predOriginal: result.predOriginal } : {}) })
  }
  return { sample: x, shape, modelEvaluations: evaluations, timesteps, ...(trajectory ? { trajectory } : {}) }
}

async function predictChecked(
  denoiser: Denoiser,
  x: Float32Array,
  shape: readonly number[],
  t: number,
  conditioning: Conditioning,
  index: number,
): Promise<Float32Array> {
  const out = await denoiser.predict(floatTensor(x, shape), t, conditioning)
  const data = floatData(out, 'model output')
  if (data.length !== x.length) {
    throw new DiffuseError(
      'SHAPE_MISMATCH',
      `The model returned [${out.dims.join(', ')}] (${data.length} values) for an input of shape [${shape.join(', ')}] at timestep ${t}`,
      { details: { index, timestep: t } },
    )
  }
  const bad = firstNonFinite(data)
  if (bad >= 0) {
    throw new DiffuseError('NON_FINITE', `The model output ${data[bad]} at element ${bad} at timestep ${t} (plan index ${index})`, {
      details: { index, timestep: t, element: bad },
    })
  }
  return data
}

/** diffusers' inpainting blend: keep the original (noised to the next level) where mask is 0. */
function blendInpaint(
  x: Float32Array,
  inpaint: { original: Float32Array; mask: Float32Array; noise: Float32Array },
  index: number,
  plan: SamplerPlan,
  sampler: Sampler,
): Float32Array {
  const last = index >= plan.timesteps.length - 1
  const known = last ? inpaint.original : sampler.addNoise(inpaint.original, inpaint.noise, index + 1, plan)
  const out = new Float32Array(x.length)
  const m = inpaint.mask
  for (let i = 0; i < x.length; i++) out[i] = (1 - m[i]!) * known[i]! + m[i]! * x[i]!
  return out
}

/**
 * Spherical interpolation between two noises (for smooth variations between seeds); falls back to
 * linear interpolation when they are nearly parallel.
 */
export function slerp(a: Float32Array, b: Float32Array, t: number, dotThreshold = 0.9995): Float32Array {
  checkFloat32Array('a', a)
  checkFloat32Array('b', b, a.length)
  checkNumber('t', t, 0, 1)
  let dot = 0
  let na = 0
  let nb = 0
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!
    na += a[i]! * a[i]!
    nb += b[i]! * b[i]!
  }
  const cos = dot / Math.sqrt(na * nb)
  const out = new Float32Array(a.length)
  if (!Number.isFinite(cos) || Math.abs(cos) > dotThreshold) {
    for (let i = 0; i < a.length; i++) out[i] = (1 - t) * a[i]! + t * b[i]!
    return out
  }
  const theta = Math.acos(cos)
  const s = Math.sin(theta)
  const wa = Math.sin((1 - t) * theta) / s
  const wb = Math.sin(t * theta) / s
  for (let i = 0; i < a.length; i++) out[i] = wa * a[i]! + wb * b[i]!
  return out
}
