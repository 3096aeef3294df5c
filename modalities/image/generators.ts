import { DiffuseError } from '../../src/errors.js'
import type { Generator } from '../../src/core/rng/types.js'
import { shapeSize } from '../../src/core/tensor.js'

/**
 * One generator per image of a batch, seen by the sampling loop as one Generator: a draw of shape
 * [B, ...] takes item i from generator i, as diffusers' randn_tensor does with a list of generators.
 * So image i of a batch is exactly the image a batch-of-one run with seed i makes.
 */
export function perImageGenerator(generators: readonly Generator[]): Generator {
  const first = generators[0]
  if (!first) throw new DiffuseError('INVALID_ARGUMENT', 'perImageGenerator needs at least one generator')
  if (generators.length === 1) return first
  const b = generators.length
  return {
    kind: first.kind,
    seed: first.seed,
    randn(shape: readonly number[]): Float32Array {
      if (shape[0] !== b) {
        throw new DiffuseError('INVALID_ARGUMENT', `A batch of ${b} generators draws shapes [${b}, ...]; asked for [${shape.join(', ')}]`)
      }
      const item = [1, ...shape.slice(1)]
      const per = shapeSize(item)
      const out = new Float32Array(per * b)
      for (let i = 0; i < b; i++) out.set(generators[i]!.randn(item), i * per)
      return out
    },
    fresh(): Generator {
      return perImageGenerator(generators.map((g) => g.fresh()))
    },
    toJSON() {
      return first.toJSON()
    },
  }
}
