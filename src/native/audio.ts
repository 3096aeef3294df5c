import { DiffuseError } from '../errors.js'
import { loadAddon } from './loader.js'

/**
 * TypeScript side of the native audio kernels (native/audio_*.cc, audio_griffin_lim.cu). Each
 * function returns null when the loaded addon does not have the kernel (an older build, or no
 * addon at all), so callers fall back to their TypeScript implementation.
 */

/** Geometry and settings of one Griffin-Lim run, already validated by the caller. */
export interface NativeGriffinLimParams {
  nFft: number
  hop: number
  win: number
  iterations: number
  momentum: number
  power: number
  randInit: boolean
  seed: number
  length: number
  frames: number
}

interface AudioAddon {
  audioGriffinLim(
    magnitude: Float32Array,
    out: Float32Array,
    params: NativeGriffinLimParams,
    device: 'cpu' | 'cuda',
    async: boolean,
    cancel?: Int32Array | null,
  ): Promise<void> | undefined
  audioCudaStatus(): { available: boolean; error?: string }
}

function audioAddon(): AudioAddon | null {
  const addon = loadAddon() as unknown as Partial<AudioAddon> | null
  if (!addon || typeof addon.audioGriffinLim !== 'function' || typeof addon.audioCudaStatus !== 'function') return null
  return addon as AudioAddon
}

/** Which native audio kernels this process can use. */
export function nativeAudioStatus(): { cpu: boolean; cuda: boolean; cudaError?: string } {
  const addon = audioAddon()
  if (!addon) return { cpu: false, cuda: false, cudaError: 'the native addon (with audio kernels) is not loaded' }
  const s = addon.audioCudaStatus()
  return s.available ? { cpu: true, cuda: true } : { cpu: true, cuda: false, cudaError: s.error ?? 'unknown' }
}

function nativeError(e: unknown): DiffuseError {
  const msg = e instanceof Error ? e.message : String(e)
  const code = e instanceof TypeError || e instanceof RangeError ? 'INVALID_ARGUMENT' : 'NATIVE'
  return new DiffuseError(code, msg, { cause: e })
}

/**
 * Griffin-Lim in the addon. device 'cuda' throws CUDA_UNAVAILABLE when it cannot run; 'auto' uses
 * CUDA when available, else the CPU threads; null means "no native kernel: use TypeScript".
 * The work runs in a worker thread (Promise). An AbortSignal stops the CPU loop between
 * iterations (through a shared flag the worker reads); a CUDA run is short and is checked when it
 * returns.
 */
export async function nativeGriffinLim(
  magnitude: Float32Array,
  params: NativeGriffinLimParams,
  device: 'cpu' | 'cuda' | 'auto',
  signal?: AbortSignal,
): Promise<Float32Array | null> {
  const addon = audioAddon()
  let target: 'cpu' | 'cuda'
  if (device === 'cuda') {
    const status = nativeAudioStatus()
    if (!status.cuda) throw new DiffuseError('CUDA_UNAVAILABLE', `Griffin-Lim on CUDA is unavailable: ${status.cudaError}`)
    target = 'cuda'
  } else if (!addon) {
    return null
  } else if (device === 'auto') {
    target = addon.audioCudaStatus().available ? 'cuda' : 'cpu'
  } else {
    target = 'cpu'
  }
  if (signal?.aborted) throw new DiffuseError('ABORTED', 'Griffin-Lim was aborted', { cause: signal.reason })
  const out = new Float32Array(params.length)
  // The addon keeps `magnitude` referenced until the worker finishes; hand it a private copy so a
  // caller who reuses their array meanwhile cannot race with the native threads.
  const input = magnitude.slice()
  const cancel = new Int32Array(1)
  const onAbort = (): void => {
    cancel[0] = 1
  }
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    await addon!.audioGriffinLim(input, out, { ...params }, target, true, cancel)
  } catch (e) {
    if (signal?.aborted) throw new DiffuseError('ABORTED', 'Griffin-Lim was aborted', { cause: signal.reason })
    throw nativeError(e)
  } finally {
    signal?.removeEventListener('abort', onAbort)
  }
  if (signal?.aborted) throw new DiffuseError('ABORTED', 'Griffin-Lim was aborted', { cause: signal.reason })
  return out
}
