/**
 * The one interface every kernel implementation provides: the TypeScript reference (reference.ts),
 * the native CPU addon and CUDA (both through loader.ts). All three agree: random numbers bit for
 * bit, arithmetic to float32 rounding.
 */
export type KernelDevice = 'typescript' | 'cpu' | 'cuda'
export type DeviceRequest = 'cpu' | 'cuda' | 'auto' | 'typescript'
export type PredictionType = 'epsilon' | 'v_prediction' | 'sample'

/**
 * One DDIM/DDPM-style update in a single pass over memory:
 *   x0  = from (x, model output) by prediction type, with sqrt(ᾱ_t) = alphaProdSqrt, sqrt(1-ᾱ_t) = betaProdSqrt
 *   x0  = clamp(x0, -clipSample, clipSample)            when clipSample is a number
 *   eps = model output (epsilon) | derived (v, sample); re-derived from the clipped x0 when recomputeEps
 *   out = coefX0·x0 + coefEps·eps + coefSample·x + coefNoise·noise
 * With guidanceScale set, modelOutput holds the unconditional half followed by the conditional half
 * (each the length of x) and the kernel combines them as uncond + w·(cond − uncond) on the fly.
 */
export interface FusedStepParams {
  predictionType: PredictionType
  alphaProdSqrt: number
  betaProdSqrt: number
  clipSample?: number | null
  recomputeEps?: boolean
  coefX0: number
  coefEps: number
  coefSample: number
  coefNoise: number
  guidanceScale?: number | null
}

export interface Kernels {
  readonly device: KernelDevice
  /** Standard normal values i = 0..out.length-1 of the Philox4x32-10 stream (seed, offset + i). */
  philoxNormal(seed: bigint, offset: number, out: Float32Array): void
  philoxNormalAsync(seed: bigint, offset: number, out: Float32Array): Promise<void>
  /**
   * out = uncond + scale·(cond − uncond); with rescale φ > 0, each of the `batch` items is then
   * blended with its std-matched version: φ·out·std(cond)/std(out) + (1−φ)·out (arXiv 2305.08891).
   */
  guidanceCombine(uncond: Float32Array, cond: Float32Array, scale: number, rescale: number, batch: number, out: Float32Array): void
  guidanceCombineAsync(uncond: Float32Array, cond: Float32Array, scale: number, rescale: number, batch: number, out: Float32Array): Promise<void>
  /** See FusedStepParams. `noise` may be null when coefNoise is 0. `x0Out`, when given, receives x0. */
  fusedStep(x: Float32Array, modelOutput: Float32Array, noise: Float32Array | null, p: FusedStepParams, out: Float32Array, x0Out?: Float32Array | null): void
  fusedStepAsync(x: Float32Array, modelOutput: Float32Array, noise: Float32Array | null, p: FusedStepParams, out: Float32Array, x0Out?: Float32Array | null): Promise<void>
}
