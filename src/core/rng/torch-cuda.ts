/**
 * torchCuda(seed): reproduces torch.randn(shape, generator=torch.Generator('cuda').manual_seed(seed))
 * for float32, including the Philox offset carried from one draw to the next.
 *
 * What torch does (ATen native/cuda/DistributionTemplates.h + curand):
 * - Launch: 256 threads per block, grid = min(ceil(numel / 256), SMs · (2048 / 256)); every
 *   thread runs curand_init(seed, subsequence = thread index, offset = generator offset) and then
 *   loops over ceil(numel / (threads · 4)) iterations, each drawing curand_normal4.
 * - Element e comes from thread e mod T (T = total threads), iteration ⌊e / 4T⌋, component
 *   ⌊e / T⌋ mod 4 of that float4.
 * - curand_normal4 = two Box-Muller pairs from one Philox4x32-10 output (counter = (offset/4 +
 *   iteration, thread), key = seed): u = x·2^-32 + 2^-33, v = y·2π·2^-32 + π·2^-32 (both by FMA),
 *   s = sqrtf(-2·logf(u)), results (s·sin v, s·cos v) with __sincosf.
 * - The generator offset then advances by 4 · iterations (a multiple of 4).
 * The grid, and so the stream, depends on the GPU's SM count: 132 on H100 SXM and H200.
 */
import type { Generator, GeneratorRecord } from './types.js'
import { DiffuseError, describeValue } from '../../errors.js'
import { philox4x32_10 } from '../../native/philox-math.js'
import { cudaLogf, sincosApprox } from './cuda-f32.js'
import { fmaf } from './float32.js'
import { checkSeed, shapeSize } from './seed.js'

const f = Math.fround
const BLOCK = 256
const MAX_THREADS_PER_SM = 2048
const TWO_M32 = 2 ** -32
const TWO_M33 = 2 ** -33
const V_SCALE = f(2 ** -32 * f(6.2831855)) // CURAND_2POW32_INV_2PI, folded in float
const V_HALF = f(V_SCALE / 2)

export interface TorchCudaOptions {
  /** Streaming multiprocessors of the GPU being reproduced (132: H100 SXM / H200). */
  multiProcessorCount?: number
}

/** Launch geometry torch uses for a CUDA normal_ of numel elements. */
export function cudaLaunchShape(numel: number, multiProcessorCount: number): { threads: number; iterations: number } {
  const grid = Math.min(Math.ceil(numel / BLOCK), multiProcessorCount * (MAX_THREADS_PER_SM / BLOCK))
  const threads = grid * BLOCK
  const iterations = Math.floor((numel - 1) / (threads * 4)) + 1
  return { threads, iterations }
}

class TorchCudaGenerator implements Generator {
  readonly kind = 'torch-cuda' as const
  readonly seed: number
  private readonly sms: number
  private offset = 0 // philox_offset_per_thread, always a multiple of 4
  private readonly block = new Uint32Array(4)
  private readonly sc = new Float64Array(2)

  constructor(seed: number, sms: number) {
    this.seed = seed
    this.sms = sms
  }

  randn(shape: readonly number[]): Float32Array {
    const n = shapeSize(shape)
    const out = new Float32Array(n)
    if (n === 0) return out
    const { threads, iterations } = cudaLaunchShape(n, this.sms)
    const k0 = this.seed % 2 ** 32
    const k1 = Math.floor(this.seed / 2 ** 32)
    const base = this.offset / 4
    const o = this.block
    const sc = this.sc
    for (let it = 0; it < iterations; it++) {
      const ctr = base + it // < 2^53: split into the two low counter words
      const c0 = ctr % 2 ** 32
      const c1 = Math.floor(ctr / 2 ** 32)
      const first = it * 4 * threads
      for (let t = 0; t < threads; t++) {
        if (first + t >= n) break
        philox4x32_10(c0, c1, t, 0, k0, k1, o)
        for (let pair = 0; pair < 2; pair++) {
          const e0 = first + (2 * pair) * threads + t
          if (e0 >= n) break
          const u = fmaf(f(o[2 * pair]!), TWO_M32, TWO_M33)
          const v = fmaf(f(o[2 * pair + 1]!), V_SCALE, V_HALF)
          const s = f(Math.sqrt(f(-2 * cudaLogf(u))))
          sincosApprox(v, sc)
          // rand·std + mean as fma(rand, 1, 0): turns -0 into +0 like the GPU
          out[e0] = f(s * sc[0]!) + 0
          const e1 = e0 + threads
          if (e1 < n) out[e1] = f(s * sc[1]!) + 0
        }
      }
    }
    this.offset += 4 * iterations
    return out
  }

  fresh(): Generator {
    return new TorchCudaGenerator(this.seed, this.sms)
  }

  toJSON(): GeneratorRecord {
    return { kind: this.kind, seed: this.seed }
  }
}

/** A generator that reproduces torch.randn with torch.Generator('cuda').manual_seed(seed). */
export function torchCuda(seed: number, options: TorchCudaOptions = {}): Generator {
  const sms = options.multiProcessorCount ?? 132
  if (typeof sms !== 'number' || !Number.isInteger(sms) || sms < 1 || sms > 4096) {
    throw new DiffuseError('INVALID_ARGUMENT', `Expected multiProcessorCount to be an integer in [1, 4096] but received ${describeValue(sms)}`, {
      details: { argument: 'multiProcessorCount', expected: 'an integer in [1, 4096]' },
    })
  }
  return new TorchCudaGenerator(checkSeed(seed), sms)
}
