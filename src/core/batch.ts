import { Tensor } from 'onnxruntime-common'
import { DiffuseError } from '../errors.js'
import type { Conditioning } from './denoiser.js'

type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array | Int8Array | Uint16Array | Int16Array | BigInt64Array | Uint32Array | BigUint64Array

/** Stacks tensors of the same dtype and trailing dimensions along the batch (first) dimension. */
export function concatBatch(parts: readonly Tensor[], name = 'tensor'): Tensor {
  const first = parts[0]
  if (!first) throw new DiffuseError('INVALID_ARGUMENT', `Cannot concatenate an empty list of ${name} tensors`)
  if (parts.length === 1) return first
  const tail = first.dims.slice(1)
  let batch = 0
  let length = 0
  for (const p of parts) {
    if (p.type !== first.type || p.dims.length !== first.dims.length || p.dims.slice(1).some((d, i) => d !== tail[i])) {
      throw new DiffuseError(
        'SHAPE_MISMATCH',
        `Conditioning "${name}" differs between branches: ${first.type}[${first.dims.join(', ')}] vs ${p.type}[${p.dims.join(', ')}]`,
      )
    }
    batch += p.dims[0] ?? 1
    length += (p.data as TypedArray).length
  }
  const Ctor = (first.data as TypedArray).constructor as new (n: number) => TypedArray
  const out = new Ctor(length)
  let at = 0
  for (const p of parts) {
    const d = p.data as TypedArray
    ;(out as unknown as { set(a: ArrayLike<unknown>, o: number): void }).set(d as ArrayLike<unknown>, at)
    at += d.length
  }
  return new Tensor(first.type as 'float32', out as Float32Array, [batch, ...tail])
}

/** Concatenates two conditionings input by input; both must name the same inputs. */
export function concatConditioning(a: Conditioning, b: Conditioning): Conditioning {
  const keysA = Object.keys(a).sort()
  const keysB = Object.keys(b).sort()
  if (keysA.join('\0') !== keysB.join('\0')) {
    throw new DiffuseError('INVALID_ARGUMENT', `Unconditional and conditional inputs differ: [${keysA.join(', ')}] vs [${keysB.join(', ')}]`)
  }
  const out: Record<string, Tensor> = {}
  for (const k of keysA) out[k] = concatBatch([a[k]!, b[k]!], k)
  return out
}
