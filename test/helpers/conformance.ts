import { readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** ../shared/conformance beside the project root, read at run time (never copied into the repo). */
export const conformanceDir = fileURLToPath(new URL('../../../shared/conformance/', import.meta.url))

export function readConformance<T = Record<string, unknown>>(relative: string): T {
  return JSON.parse(readFileSync(conformanceDir + relative, 'utf8')) as T
}

export function listConformance(folder: string): string[] {
  return readdirSync(conformanceDir + folder).filter((f) => f.endsWith('.json')).sort()
}

/** The analytic model of the conformance README: conditional branch. */
export function epsCond(x: number, t: number): number {
  return 0.5 * Math.tanh(x) + 0.1 * Math.cos(0.01 * t) * x + 0.05 * Math.sin(0.02 * t)
}

/** The analytic model of the conformance README: unconditional branch. */
export function epsUncond(x: number, t: number): number {
  return 0.3 * Math.tanh(x) - 0.02 * Math.cos(0.01 * t)
}

/** ‖a − b‖ / ‖b‖ */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0
  let den = 0
  for (let i = 0; i < b.length; i++) {
    const d = a[i]! - b[i]!
    num += d * d
    den += b[i]! * b[i]!
  }
  return Math.sqrt(num / den)
}
