import { DiffuseError, describeValue } from '../../errors.js'

/** Largest seed accepted: seeds are exact integers in a JSON number (0 ≤ seed < 2^53). */
export const MAX_SEED = 2 ** 53 - 1

/** Validates a generator seed; throws DiffuseError INVALID_ARGUMENT otherwise. */
export function checkSeed(seed: unknown, name = 'seed'): number {
  if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
    throw new DiffuseError('INVALID_ARGUMENT', `Expected ${name} to be an integer in [0, 2^53 - 1] but received ${describeValue(seed)}`, {
      details: { argument: name, expected: 'an integer in [0, 2^53 - 1]' },
    })
  }
  return seed
}

/**
 * Validates a shape for randn and returns its element count. Like torch, [] is a scalar (one
 * value) and a zero dimension gives no values.
 */
export function shapeSize(shape: unknown): number {
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0)) {
    throw new DiffuseError('INVALID_ARGUMENT', `Expected shape to be an array of non-negative integers but received ${describeValue(shape)}`, {
      details: { argument: 'shape', expected: 'an array of non-negative integers' },
    })
  }
  let n = 1
  for (const d of shape as number[]) n *= d
  if (n > 2 ** 31 - 1) {
    throw new DiffuseError('INVALID_ARGUMENT', `Expected shape to have fewer than 2^31 elements but it has ${n}`, {
      details: { argument: 'shape', expected: 'fewer than 2^31 elements' },
    })
  }
  return n
}
