/**
 * philox(seed): the SDK's default generator. Value i of a seed's stream is the Philox4x32-10 +
 * Box-Muller normal defined in src/native/philox-math.ts, a pure function of (seed, i), so the
 * TypeScript, native CPU and CUDA kernels produce the same noise and a draw can be split or
 * batched freely: drawing shape A then shape B gives exactly one draw of size(A) + size(B).
 */
import type { Generator, GeneratorRecord } from './types.js'
import type { Kernels } from '../../native/kernels.js'
import { getKernels } from '../../native/loader.js'
import { DiffuseError, describeValue } from '../../errors.js'
import { MAX_SEED, checkSeed, shapeSize } from './seed.js'

export interface PhiloxOptions {
  /** Kernels that compute the stream (default: the best available: native CUDA/CPU, else TypeScript). */
  kernels?: Kernels
}

class PhiloxGenerator implements Generator {
  readonly kind = 'philox' as const
  readonly seed: number
  private readonly key: bigint
  private offset = 0
  private kernels: Kernels | undefined

  constructor(seed: number, kernels: Kernels | undefined) {
    this.seed = seed
    this.key = BigInt(seed)
    this.kernels = kernels
  }

  randn(shape: readonly number[]): Float32Array {
    const out = new Float32Array(shapeSize(shape))
    if (out.length === 0) return out
    // Resolved on first use, so that creating a generator never loads the native addon.
    this.kernels ??= defaultKernels()
    this.kernels.philoxNormal(this.key, this.offset, out)
    this.offset += out.length
    return out
  }

  fresh(): Generator {
    return new PhiloxGenerator(this.seed, this.kernels)
  }

  toJSON(): GeneratorRecord {
    return { kind: this.kind, seed: this.seed }
  }
}

function defaultKernels(): Kernels {
  // Every implementation gives the same bits, so 'auto' only picks the fastest.
  return getKernels('auto')
}

/** The default generator: Philox4x32-10 normal noise, value i depending only on (seed, i). */
export function philox(seed: number | bigint, options: PhiloxOptions = {}): Generator {
  let s: unknown = seed
  if (typeof seed === 'bigint') {
    // Seeds stay exact JSON numbers in reproduction records, hence the same range as numbers.
    if (seed < 0n || seed > BigInt(MAX_SEED)) {
      throw new DiffuseError('INVALID_ARGUMENT', `Expected seed to be an integer in [0, 2^53 - 1] but received ${describeValue(seed)}`, {
        details: { argument: 'seed', expected: 'an integer in [0, 2^53 - 1]' },
      })
    }
    s = Number(seed)
  }
  const kernels = options.kernels
  if (kernels !== undefined && (typeof kernels !== 'object' || kernels === null || typeof kernels.philoxNormal !== 'function')) {
    throw new DiffuseError('INVALID_ARGUMENT', `Expected options.kernels to be a Kernels object but received ${describeValue(kernels)}`, {
      details: { argument: 'options.kernels', expected: 'a Kernels object' },
    })
  }
  return new PhiloxGenerator(checkSeed(s), kernels)
}
