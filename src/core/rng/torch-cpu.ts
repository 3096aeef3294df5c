/**
 * torchCpu(seed): reproduces torch.randn(shape, generator=torch.Generator('cpu').manual_seed(seed))
 * for float32 bit for bit, including the generator state carried from one draw to the next.
 *
 * torch's CPU normal kernel (ATen native/cpu/DistributionTemplates.h, x86-64 builds) has two paths:
 * - numel >= 16 (contiguous float): fill the tensor with float uniforms (one 32-bit MT draw each,
 *   24 bits × 2^-24), then Box-Muller in float32 over blocks of 16 (u1 = the first 8, u2 = the
 *   next 8) with the AVX2 Cephes log/sincos; when numel % 16 ≠ 0 the last 16 slots are refilled
 *   with 16 fresh uniforms and transformed again. Consumes numel (+16) 32-bit draws.
 * - numel < 16: one at a time through normal_distribution<double>: two double uniforms (two 64-bit
 *   draws each, 53 bits × 2^-53), r = sqrt(-2·log1p(-u2)), θ = 2π·u1, returns r·cos θ and caches
 *   r·sin θ in the generator for the next scalar draw (the vectorised path neither reads nor
 *   clears that cache).
 */
import type { Generator, GeneratorRecord } from './types.js'
import { MT19937 } from './mt19937.js'
import { cephesLogf, cephesSincosf } from './cephes-f32.js'
import { checkSeed, shapeSize } from './seed.js'

const f = Math.fround
const TWO_PI_F = f(2 * Math.PI) // 2.0f * c10::pi<double>, stored as float
const TWO_24 = 2 ** -24
const TWO_32 = 2 ** 32
const TWO_53 = 2 ** -53

/** Internal switches, for the tests that justify the defaults. */
export interface TorchCpuOptions {
  /** Emulate GCC's FMA contraction in the AVX2 math (true matches torch's x86-64 wheels). */
  fusedMultiplyAdd?: boolean
}

class TorchCpuGenerator implements Generator {
  readonly kind = 'torch-cpu' as const
  readonly seed: number
  private readonly mt: MT19937
  private cachedNormal: number | null = null
  private readonly fused: boolean
  private readonly sc = new Float64Array(2)

  constructor(seed: number, fused: boolean) {
    this.seed = seed
    this.fused = fused
    this.mt = new MT19937(seed)
  }

  randn(shape: readonly number[]): Float32Array {
    const n = shapeSize(shape)
    const out = new Float32Array(n)
    if (n >= 16) this.fillVectorised(out)
    else for (let i = 0; i < n; i++) out[i] = this.nextScalarNormal()
    return out
  }

  fresh(): Generator {
    return new TorchCpuGenerator(this.seed, this.fused)
  }

  toJSON(): GeneratorRecord {
    return { kind: this.kind, seed: this.seed }
  }

  private uniformDouble(): number {
    const hi = this.mt.nextUint32()
    const lo = this.mt.nextUint32()
    // (hi << 32 | lo) & (2^53 - 1), times 2^-53: exact in a double.
    return ((hi & 0x1fffff) * TWO_32 + lo) * TWO_53
  }

  private nextScalarNormal(): number {
    let ret: number
    if (this.cachedNormal !== null) {
      ret = this.cachedNormal
      this.cachedNormal = null
    } else {
      const u1 = this.uniformDouble()
      const u2 = this.uniformDouble()
      const r = Math.sqrt(-2 * Math.log1p(-u2))
      const theta = 2 * Math.PI * u1
      this.cachedNormal = r * Math.sin(theta)
      ret = r * Math.cos(theta)
    }
    return ret * 1 + 0 // mean 0, std 1 in double, as transformation::normal does
  }

  private fillVectorised(out: Float32Array): void {
    const n = out.length
    for (let i = 0; i < n; i++) out[i] = (this.mt.nextUint32() & 0xffffff) * TWO_24
    for (let i = 0; i + 16 <= n; i += 16) this.boxMuller16(out, i)
    if (n % 16 !== 0) {
      const base = n - 16
      for (let i = 0; i < 16; i++) out[base + i] = (this.mt.nextUint32() & 0xffffff) * TWO_24
      this.boxMuller16(out, base)
    }
  }

  private boxMuller16(d: Float32Array, i: number): void {
    const sc = this.sc
    const fused = this.fused
    for (let j = 0; j < 8; j++) {
      const u1 = f(1 - d[i + j]!)
      const u2 = d[i + j + 8]!
      const radius = f(Math.sqrt(f(-2 * cephesLogf(u1, fused))))
      const theta = f(TWO_PI_F * u2)
      cephesSincosf(theta, fused, sc)
      // fmadd(n, std = 1, mean = 0) = n + 0
      d[i + j] = f(radius * sc[1]!) + 0
      d[i + j + 8] = f(radius * sc[0]!) + 0
    }
  }
}

/** A generator that reproduces torch.randn with torch.Generator('cpu').manual_seed(seed). */
export function torchCpu(seed: number, options: TorchCpuOptions = {}): Generator {
  return new TorchCpuGenerator(checkSeed(seed), options.fusedMultiplyAdd ?? true)
}
