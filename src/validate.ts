import { DiffuseError, invalidArgument } from './errors.js'

/** Argument checks shared by every public entry point. Each throws a DiffuseError('INVALID_ARGUMENT'). */

export function checkInteger(name: string, v: unknown, min = -Infinity, max = Infinity): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    const range = min === -Infinity && max === Infinity ? '' : max === Infinity ? ` >= ${min}` : ` in [${min}, ${max}]`
    throw invalidArgument(name, `an integer${range}`, v)
  }
  return v
}

export function checkNumber(name: string, v: unknown, min = -Infinity, max = Infinity): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    const range = min === -Infinity && max === Infinity ? '' : max === Infinity ? ` >= ${min}` : ` in [${min}, ${max}]`
    throw invalidArgument(name, `a finite number${range}`, v)
  }
  return v
}

export function checkBoolean(name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw invalidArgument(name, 'a boolean', v)
  return v
}

export function checkString(name: string, v: unknown, { nonEmpty = false } = {}): string {
  if (typeof v !== 'string' || (nonEmpty && v.trim() === '')) throw invalidArgument(name, nonEmpty ? 'a non-empty string' : 'a string', v)
  return v
}

export function checkOneOf<T extends string>(name: string, v: unknown, options: readonly T[]): T {
  if (typeof v !== 'string' || !(options as readonly string[]).includes(v)) {
    throw invalidArgument(name, `one of ${options.map((o) => JSON.stringify(o)).join(', ')}`, v)
  }
  return v as T
}

export function checkFloat32Array(name: string, v: unknown, length?: number): Float32Array {
  if (!(v instanceof Float32Array)) throw invalidArgument(name, 'a Float32Array', v)
  if (length !== undefined && v.length !== length) {
    throw new DiffuseError('INVALID_ARGUMENT', `Expected ${name} to have length ${length} but received length ${v.length}`, {
      details: { argument: name },
    })
  }
  return v
}

export function checkShape(name: string, v: unknown): number[] {
  if (!Array.isArray(v) || v.length === 0 || !v.every((d) => typeof d === 'number' && Number.isInteger(d) && d > 0)) {
    throw invalidArgument(name, 'a non-empty array of positive integers', v)
  }
  const size = v.reduce((a: number, b: number) => a * b, 1)
  if (size > 2 ** 31 - 1) throw invalidArgument(name, 'a shape of fewer than 2^31 elements', v)
  return v as number[]
}

export function checkSignal(name: string, v: unknown): AbortSignal | undefined {
  if (v === undefined) return undefined
  if (!(v instanceof AbortSignal)) throw invalidArgument(name, 'an AbortSignal', v)
  return v
}
