import { DiffuseError, invalidArgument } from '../errors.js'
import type { FusedStepParams, PredictionType } from './kernels.js'

/**
 * Argument checks shared by every Kernels implementation (TypeScript, native CPU, CUDA), so that all
 * three refuse the same inputs with the same DiffuseError('INVALID_ARGUMENT') before touching memory.
 * The addon checks lengths again on its own side; these checks give the clear message.
 */

const PREDICTION_TYPES: readonly PredictionType[] = ['epsilon', 'v_prediction', 'sample']

function lengthError(name: string, expected: string, received: number): DiffuseError {
  return new DiffuseError('INVALID_ARGUMENT', `Expected ${name} to have length ${expected} but received length ${received}`, {
    details: { argument: name },
  })
}

export function checkF32(name: string, v: unknown): Float32Array {
  if (!(v instanceof Float32Array)) throw invalidArgument(name, 'a Float32Array', v)
  return v
}

function checkFinite(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalidArgument(name, 'a finite number', v)
  return v
}

/** Returns the Philox key words; checks that offset + out.length stays within 2^53. */
export function checkPhiloxArgs(seed: unknown, offset: unknown, out: unknown): { k0: number; k1: number; offset: number; out: Float32Array } {
  if (typeof seed !== 'bigint' || seed < 0n || seed >= 1n << 64n) throw invalidArgument('seed', 'a bigint in [0, 2^64)', seed)
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    throw invalidArgument('offset', 'an integer in [0, 2^53)', offset)
  }
  const o = checkF32('out', out)
  if (offset + o.length > Number.MAX_SAFE_INTEGER) {
    throw invalidArgument('offset', `an integer with offset + out.length <= 2^53 - 1 (out.length ${o.length})`, offset)
  }
  return { k0: Number(seed & 0xffffffffn), k1: Number(seed >> 32n), offset, out: o }
}

export function checkGuidanceArgs(uncond: unknown, cond: unknown, scale: unknown, rescale: unknown, batch: unknown, out: unknown): void {
  const u = checkF32('uncond', uncond)
  const c = checkF32('cond', cond)
  const o = checkF32('out', out)
  checkFinite('scale', scale)
  if (typeof rescale !== 'number' || !Number.isFinite(rescale) || rescale < 0) throw invalidArgument('rescale', 'a finite number >= 0', rescale)
  if (typeof batch !== 'number' || !Number.isInteger(batch) || batch < 1) throw invalidArgument('batch', 'an integer >= 1', batch)
  if (c.length !== u.length) throw lengthError('cond', `${u.length} (the length of uncond)`, c.length)
  if (o.length !== u.length) throw lengthError('out', `${u.length} (the length of uncond)`, o.length)
  if (u.length % batch !== 0) {
    throw new DiffuseError('INVALID_ARGUMENT', `Expected batch (${batch}) to divide the tensor length ${u.length}`, { details: { argument: 'batch' } })
  }
}

/** Validated, normalised step parameters (nulls resolved) as every implementation consumes them. */
export interface StepArgs {
  prediction: 0 | 1 | 2 // epsilon, v_prediction, sample
  a: number
  b: number
  clip: number // +Infinity when off
  recomputeEps: boolean
  coefX0: number
  coefEps: number
  coefSample: number
  coefNoise: number
  guided: boolean
  w: number
}

export function checkStepArgs(
  x: unknown,
  modelOutput: unknown,
  noise: unknown,
  p: unknown,
  out: unknown,
  x0Out: unknown,
): StepArgs {
  const xs = checkF32('x', x)
  const n = xs.length
  const m = checkF32('modelOutput', modelOutput)
  const o = checkF32('out', out)
  if (p === null || typeof p !== 'object') throw invalidArgument('params', 'a FusedStepParams object', p)
  const q = p as FusedStepParams
  if (typeof q.predictionType !== 'string' || !PREDICTION_TYPES.includes(q.predictionType)) {
    throw invalidArgument('params.predictionType', `one of ${PREDICTION_TYPES.map((t) => JSON.stringify(t)).join(', ')}`, q.predictionType)
  }
  const a = checkFinite('params.alphaProdSqrt', q.alphaProdSqrt)
  const b = checkFinite('params.betaProdSqrt', q.betaProdSqrt)
  let clip = Infinity
  if (q.clipSample !== undefined && q.clipSample !== null) {
    if (typeof q.clipSample !== 'number' || !(q.clipSample > 0) || !Number.isFinite(q.clipSample)) {
      throw invalidArgument('params.clipSample', 'a finite number > 0, or null', q.clipSample)
    }
    clip = q.clipSample
  }
  if (q.recomputeEps !== undefined && typeof q.recomputeEps !== 'boolean') throw invalidArgument('params.recomputeEps', 'a boolean', q.recomputeEps)
  const coefX0 = checkFinite('params.coefX0', q.coefX0)
  const coefEps = checkFinite('params.coefEps', q.coefEps)
  const coefSample = checkFinite('params.coefSample', q.coefSample)
  const coefNoise = checkFinite('params.coefNoise', q.coefNoise)
  let guided = false
  let w = 1
  if (q.guidanceScale !== undefined && q.guidanceScale !== null) {
    w = checkFinite('params.guidanceScale', q.guidanceScale)
    guided = true
  }
  const expectM = guided ? 2 * n : n
  if (m.length !== expectM) throw lengthError('modelOutput', guided ? `${expectM} (uncond and cond halves of x's length ${n})` : `${n} (the length of x)`, m.length)
  if (noise !== null && noise !== undefined) {
    const z = checkF32('noise', noise)
    if (z.length !== n) throw lengthError('noise', `${n} (the length of x)`, z.length)
  } else if (coefNoise !== 0) {
    throw invalidArgument('noise', `a Float32Array of length ${n} (params.coefNoise is ${coefNoise})`, noise)
  }
  if (o.length !== n) throw lengthError('out', `${n} (the length of x)`, o.length)
  if (x0Out !== null && x0Out !== undefined) {
    const z = checkF32('x0Out', x0Out)
    if (z.length !== n) throw lengthError('x0Out', `${n} (the length of x)`, z.length)
  }
  return {
    prediction: q.predictionType === 'epsilon' ? 0 : q.predictionType === 'v_prediction' ? 1 : 2,
    a,
    b,
    clip,
    recomputeEps: q.recomputeEps === true,
    coefX0,
    coefEps,
    coefSample,
    coefNoise,
    guided,
    w,
  }
}
