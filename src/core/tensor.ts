import { Tensor } from 'onnxruntime-common'
import { DiffuseError, invalidArgument } from '../errors.js'

export { Tensor }

/** Number of elements of a shape. */
export function shapeSize(dims: readonly number[]): number {
  let n = 1
  for (const d of dims) n *= d
  return n
}

/** A float32 onnxruntime-common Tensor over `data` (no copy). */
export function floatTensor(data: Float32Array, dims: readonly number[]): Tensor {
  if (shapeSize(dims) !== data.length) {
    throw new DiffuseError('SHAPE_MISMATCH', `Tensor data of length ${data.length} does not fit shape [${dims.join(', ')}]`)
  }
  return new Tensor('float32', data, dims)
}

/** The Float32Array behind a float32 Tensor (no copy); a clear error for any other dtype. */
export function floatData(t: Tensor, name = 'tensor'): Float32Array {
  if (!t || typeof t !== 'object' || !('type' in t)) throw invalidArgument(name, 'an onnxruntime Tensor', t)
  if (t.type !== 'float32') throw invalidArgument(name, 'a float32 tensor', `${t.type} tensor`)
  return t.data as Float32Array
}

/** Index of the first NaN/Inf in `a`, or -1. */
export function firstNonFinite(a: Float32Array): number {
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!
    if (v - v !== 0) return i
  }
  return -1
}
