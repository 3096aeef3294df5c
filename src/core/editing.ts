import { DiffuseError } from '../errors.js'
import { sample, type SampleOptions, type SampleResult } from './loop.js'
import { createSampler } from './samplers/registry.js'

export interface InvertOptions extends Omit<SampleOptions, 'init' | 'inpaint' | 'noise' | 'start'> {
  /** the clean sample (latents, spectrogram, cloud) to invert; not modified */
  data: Float32Array
}

/**
 * DDIM inversion: runs the deterministic DDIM ODE from data towards noise with the same schedule as
 * `options.sampler` (diffusers' DDIMInverseScheduler built from that sampler's config). Sampling the
 * result with DDIM (η = 0), the same steps and the same conditioning returns to the data, up to the
 * discretisation error of the ODE; edits made to the conditioning in between give variations of it.
 */
export async function invert(options: InvertOptions): Promise<SampleResult> {
  if (!(options.data instanceof Float32Array)) throw new DiffuseError('INVALID_ARGUMENT', 'Expected options.data to be a Float32Array of the data to invert')
  if (!options.sampler || typeof options.sampler.toJSON !== 'function') throw new DiffuseError('INVALID_ARGUMENT', 'Expected options.sampler to be a Sampler')
  const inverse = createSampler('DDIMInverseScheduler', options.sampler.toJSON())
  const { data, ...rest } = options
  return sample({ ...rest, sampler: inverse, start: data })
}
