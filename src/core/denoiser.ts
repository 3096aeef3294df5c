import type { Tensor } from 'onnxruntime-common'
import type { PredictionType } from '../native/kernels.js'
import { floatTensor } from './tensor.js'
import { DiffuseError } from '../errors.js'

/**
 * Extra model inputs by name (e.g. `encoder_hidden_states`, `class_labels`), batch-major: the first
 * dimension is the batch. For classifier-free guidance the loop concatenates the unconditional and
 * conditional conditioning along that dimension.
 */
export type Conditioning = Readonly<Record<string, Tensor>>

/**
 * What the sampling loop knows of a network: x_t and a timestep in, a prediction out.
 * `predictionType`, when declared, must agree with the sampler's.
 */
export interface Denoiser {
  readonly predictionType?: PredictionType
  /** largest batch the model takes in one call; guidance halves run separately beyond it */
  readonly maxBatch?: number
  predict(sample: Tensor, timestep: number, conditioning: Conditioning): Promise<Tensor>
  dispose?(): Promise<void>
}

export type DenoiserFunction = (
  sample: Float32Array,
  shape: readonly number[],
  timestep: number,
  conditioning: Conditioning,
) => Float32Array | Promise<Float32Array>

/** Any function as a denoiser (tests, analytic models, custom networks). */
export function functionDenoiser(fn: DenoiserFunction, options: { predictionType?: PredictionType; maxBatch?: number } = {}): Denoiser {
  if (typeof fn !== 'function') throw new DiffuseError('INVALID_ARGUMENT', 'Expected a denoiser function (sample, shape, timestep, conditioning) => Float32Array')
  return {
    ...(options.predictionType ? { predictionType: options.predictionType } : {}),
    ...(options.maxBatch ? { maxBatch: options.maxBatch } : {}),
    async predict(sample, timestep, conditioning) {
      const out = await fn(sample.data as Float32Array, sample.dims, timestep, conditioning)
      if (!(out instanceof Float32Array)) {
        throw new DiffuseError('MODEL_IO', `The denoiser function returned ${out === null ? 'null' : typeof out} instead of a Float32Array`)
      }
      return floatTensor(out, out.length === sample.data.length ? sample.dims : [out.length])
    },
  }
}
