import { DiffuseError, describeValue } from '../../errors.js'
import type { SchedulerConfig } from './types.js'

/**
 * Scheduler configs in diffusers' JSON form (`_class_name` + keys). Each sampler class declares its keys
 * with diffusers' __init__ defaults; parsing fills the defaults, checks types and values, keeps unknown
 * harmless keys (they are written back by toJSON), and honours `_use_default_values` as diffusers'
 * `from_config` does (listed keys take this class's default, which matters when switching class).
 */

export type KeyType =
  | { readonly kind: 'int'; readonly min?: number; readonly max?: number }
  | { readonly kind: 'number'; readonly min?: number; readonly max?: number; readonly above?: number; readonly allowInfinite?: boolean }
  | { readonly kind: 'boolean' }
  | { readonly kind: 'enum'; readonly values: readonly string[] }
  | { readonly kind: 'numberArray'; readonly min?: number; readonly max?: number }
  | { readonly kind: 'intArray'; readonly min?: number }

export interface KeySpec {
  readonly type: KeyType
  readonly default: unknown
  /** null is a valid value (diffusers `Optional[...] = None`) */
  readonly nullable?: boolean
  /** a diffusekit extension, not a diffusers __init__ argument (e.g. DDIM's eta, a step kwarg there) */
  readonly extension?: boolean
}

export type ClassSpec = Readonly<Record<string, KeySpec>>

// Shared key specs (the defaults that differ per class are given at each class).
export const int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER): KeySpec => ({ type: { kind: 'int', min, max }, default: def })
export const num = (def: number | null, opts: { min?: number; max?: number; above?: number; allowInfinite?: boolean; nullable?: boolean } = {}): KeySpec => ({
  type: { kind: 'number', ...opts },
  default: def,
  ...(opts.nullable ? { nullable: true } : {}),
})
export const bool = (def: boolean): KeySpec => ({ type: { kind: 'boolean' }, default: def })
export const oneOf = (def: string | null, values: readonly string[], nullable = false): KeySpec => ({
  type: { kind: 'enum', values },
  default: def,
  ...(nullable ? { nullable: true } : {}),
})
export const ext = (s: KeySpec): KeySpec => ({ ...s, extension: true })

export const PREDICTION_TYPES = ['epsilon', 'v_prediction', 'sample'] as const
export const SPACINGS = ['linspace', 'leading', 'trailing'] as const
export const BETA_SCHEDULE_NAMES = ['linear', 'scaled_linear', 'squaredcos_cap_v2', 'exp'] as const

export const commonKeys = {
  num_train_timesteps: int(1000, 1, 1_000_000),
  trained_betas: { type: { kind: 'numberArray', min: 0, max: 1 }, default: null, nullable: true } as KeySpec,
  beta_schedule: oneOf('linear', BETA_SCHEDULE_NAMES),
  prediction_type: oneOf('epsilon', PREDICTION_TYPES),
  timestep_spacing: oneOf('leading', SPACINGS),
  steps_offset: int(0, 0, 1_000_000),
  rescale_betas_zero_snr: bool(false),
  clip_sample_range: num(1.0, { above: 0 }),
  thresholding: bool(false),
  dynamic_thresholding_ratio: num(0.995, { min: 0, max: 1 }),
  sample_max_value: num(1.0, { above: 0 }),
} as const

export const betaStart = (def: number): KeySpec => num(def, { min: 0, max: 1 })
export const betaEnd = (def: number): KeySpec => num(def, { min: 0, max: 1 })

function expectedText(spec: KeySpec): string {
  const t = spec.type
  let s: string
  switch (t.kind) {
    case 'int':
      s = `an integer${t.min !== undefined && t.min > -Number.MAX_SAFE_INTEGER ? ` >= ${t.min}` : ''}${t.max !== undefined && t.max < Number.MAX_SAFE_INTEGER ? ` and <= ${t.max}` : ''}`
      break
    case 'number': {
      const parts: string[] = []
      if (t.above !== undefined) parts.push(`> ${t.above}`)
      if (t.min !== undefined) parts.push(`>= ${t.min}`)
      if (t.max !== undefined) parts.push(`<= ${t.max}`)
      s = `a ${t.allowInfinite ? '' : 'finite '}number${parts.length ? ' ' + parts.join(' and ') : ''}`
      break
    }
    case 'boolean':
      s = 'a boolean'
      break
    case 'enum':
      s = `one of ${t.values.map((v) => JSON.stringify(v)).join(', ')}`
      break
    case 'numberArray':
      s = `an array of numbers${t.min !== undefined && t.max !== undefined ? ` in [${t.min}, ${t.max}]` : ''}`
      break
    case 'intArray':
      s = `an array of integers${t.min !== undefined ? ` >= ${t.min}` : ''}`
      break
  }
  return spec.nullable ? `${s} or null` : s
}

export function configError(className: string, key: string, expected: string, received: unknown): DiffuseError {
  return new DiffuseError('INVALID_CONFIG', `Invalid ${className} config: expected "${key}" to be ${expected} but received ${describeValue(received)}`, {
    details: { className, key, expected },
  })
}

function validValue(spec: KeySpec, v: unknown): boolean {
  if (v === null) return spec.nullable === true
  const t = spec.type
  switch (t.kind) {
    case 'int':
      return typeof v === 'number' && Number.isInteger(v) && (t.min === undefined || v >= t.min) && (t.max === undefined || v <= t.max)
    case 'number':
      if (typeof v !== 'number' || Number.isNaN(v)) return false
      if (!t.allowInfinite && !Number.isFinite(v)) return false
      if (t.above !== undefined && !(v > t.above)) return false
      if (t.min !== undefined && v < t.min) return false
      if (t.max !== undefined && v > t.max) return false
      return true
    case 'boolean':
      return typeof v === 'boolean'
    case 'enum':
      return typeof v === 'string' && t.values.includes(v)
    case 'numberArray':
      return (
        Array.isArray(v) &&
        v.every((x) => typeof x === 'number' && Number.isFinite(x) && (t.min === undefined || x >= t.min) && (t.max === undefined || x <= t.max))
      )
    case 'intArray':
      return Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isInteger(x) && (t.min === undefined || x >= t.min))
  }
}

/** Checks one key's value against its spec; returns it (arrays copied) or throws INVALID_CONFIG. */
export function checkKey(className: string, key: string, spec: KeySpec, v: unknown): unknown {
  if (!validValue(spec, v)) throw configError(className, key, expectedText(spec), v)
  return Array.isArray(v) ? Object.freeze([...v]) : v
}

/** JSON-safe values (what a scheduler_config.json can hold): kept as they are. */
function isJsonSafe(v: unknown, depth = 0): boolean {
  if (depth > 32) return false
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true
  if (typeof v === 'number') return !Number.isNaN(v)
  if (Array.isArray(v)) return v.every((x) => isJsonSafe(x, depth + 1))
  if (typeof v === 'object') {
    const proto = Object.getPrototypeOf(v)
    if (proto !== Object.prototype && proto !== null) return false
    return Object.values(v as Record<string, unknown>).every((x) => isJsonSafe(x, depth + 1))
  }
  return false
}

/** Every key spec of every class, by key (for type-checking keys another class owns). */
const globalSpecs = new Map<string, { className: string; spec: KeySpec }>()
const classSpecs = new Map<string, ClassSpec>()

/** Called by each sampler file at load: declares its class and keys. */
export function registerClassSpec(className: string, spec: ClassSpec): void {
  classSpecs.set(className, spec)
  for (const [k, s] of Object.entries(spec)) if (!globalSpecs.has(k)) globalSpecs.set(k, { className, spec: s })
}

export function classSpecOf(className: string): ClassSpec | undefined {
  return classSpecs.get(className)
}

export interface ParseOptions {
  /** values that win over the input (and over `_use_default_values`) */
  overrides?: Record<string, unknown>
  /**
   * the class the input config was written for, when it differs from className: its keys that
   * className does not know are dropped, as diffusers' from_config drops them
   */
  fromClass?: string
}

/**
 * Parses a diffusers config object for `className`: every key of the class, defaults filled, values
 * checked; unknown harmless keys kept after them. Throws INVALID_CONFIG naming the key.
 */
export function parseConfig(className: string, spec: ClassSpec, input: unknown, options: ParseOptions = {}): SchedulerConfig {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new DiffuseError('INVALID_CONFIG', `Invalid ${className} config: expected an object but received ${describeValue(input)}`, {
      details: { className },
    })
  }
  const src = input as Record<string, unknown>
  const overrides = options.overrides ?? {}
  if (overrides === null || typeof overrides !== 'object' || Array.isArray(overrides)) {
    throw new DiffuseError('INVALID_CONFIG', `Invalid ${className} overrides: expected an object but received ${describeValue(overrides)}`)
  }
  let useDefaults: string[] = []
  const udv = src['_use_default_values']
  if (udv !== undefined && udv !== null) {
    if (!Array.isArray(udv) || !udv.every((k) => typeof k === 'string')) throw configError(className, '_use_default_values', 'an array of key names', udv)
    useDefaults = udv as string[]
  }
  const out: Record<string, unknown> = { _class_name: className }
  const defaulted: string[] = []
  for (const [key, s] of Object.entries(spec)) {
    let v: unknown
    if (key in overrides && overrides[key] !== undefined) v = overrides[key]
    else if (src[key] !== undefined && !useDefaults.includes(key)) v = src[key]
    else {
      v = s.default
      if (!s.extension) defaulted.push(key)
    }
    out[key] = checkKey(className, key, s, v)
  }
  const fromSpec = options.fromClass && options.fromClass !== className ? classSpecs.get(options.fromClass) : undefined
  const extras: [string, unknown][] = [...Object.entries(src), ...Object.entries(overrides).filter(([k]) => !(k in src))]
  for (const [key, v0] of extras) {
    if (key === '_class_name' || key === '_use_default_values' || key in spec || v0 === undefined) continue
    const v = key in overrides && overrides[key] !== undefined ? overrides[key] : v0
    if (fromSpec && key in fromSpec && !(key in overrides)) continue
    const other = globalSpecs.get(key)
    if (other && !key.startsWith('_')) {
      // a key another sampler class owns: harmless here, but it must still be well-formed
      out[key] = checkKey(className, key, other.spec, v)
    } else {
      if (!isJsonSafe(v)) throw configError(className, key, 'a JSON value (string, number, boolean, null, array or object)', v)
      out[key] = v
    }
  }
  if (defaulted.length > 0) out['_use_default_values'] = defaulted
  return Object.freeze(out) as SchedulerConfig
}

/** Only one of karras / exponential / beta sigmas, as diffusers requires. */
export function checkOneSigmaSpacing(className: string, c: Record<string, unknown>): void {
  const on = ['use_karras_sigmas', 'use_exponential_sigmas', 'use_beta_sigmas'].filter((k) => c[k] === true)
  if (on.length > 1) {
    throw new DiffuseError('INVALID_CONFIG', `Invalid ${className} config: only one of ${on.join(', ')} can be true`, {
      details: { className, key: on[1] },
    })
  }
}

/** A valid diffusers option that diffusekit does not implement: a clear INVALID_CONFIG. */
export function unsupportedOption(className: string, key: string, value: unknown, why = 'not supported by diffusekit'): DiffuseError {
  return new DiffuseError('INVALID_CONFIG', `Invalid ${className} config: "${key}" = ${JSON.stringify(value)} is ${why}`, {
    details: { className, key },
  })
}

/**
 * Parses scheduler_config.json text. Python's json writes -Infinity, Infinity and NaN as bare words
 * (e.g. DPMSolverMultistepScheduler's lambda_min_clipped), which JSON.parse rejects; they are accepted here.
 */
export function parseSchedulerConfigJson(text: string): SchedulerConfig {
  const value = parsePythonJson(text, 'scheduler config')
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new DiffuseError('FILE_FORMAT', `Expected the scheduler config JSON to hold an object but found ${describeValue(value)}`)
  }
  const cls = (value as Record<string, unknown>)['_class_name']
  if (typeof cls !== 'string') {
    throw new DiffuseError('FILE_FORMAT', `The scheduler config JSON has no "_class_name" string (found ${describeValue(cls)})`)
  }
  return value as SchedulerConfig
}

/** JSON as Python's json module writes it: bare NaN, Infinity and -Infinity are numbers. */
export function parsePythonJson(text: string, what = 'JSON'): unknown {
  if (typeof text !== 'string') throw new DiffuseError('FILE_FORMAT', `Expected ${what} text but received ${describeValue(text)}`)
  try {
    return JSON.parse(replacePythonNumbers(text), (_k, v) => {
      if (typeof v === 'string' && v.startsWith(SENTINEL)) {
        const w = v.slice(SENTINEL.length)
        return w === 'Infinity' ? Infinity : w === '-Infinity' ? -Infinity : NaN
      }
      return v
    })
  } catch (err) {
    throw new DiffuseError('FILE_FORMAT', `Malformed ${what}: ${(err as Error).message}`, { cause: err })
  }
}

const SENTINEL = '\u0000pyjson:'

/** Replaces bare NaN / Infinity / -Infinity outside strings by sentinel strings. */
function replacePythonNumbers(text: string): string {
  let out = ''
  let i = 0
  const n = text.length
  while (i < n) {
    const c = text[i]!
    if (c === '"') {
      let j = i + 1
      while (j < n && text[j] !== '"') j += text[j] === '\\' ? 2 : 1
      out += text.slice(i, j + 1)
      i = j + 1
      continue
    }
    let matched = false
    for (const word of ['-Infinity', 'Infinity', 'NaN']) {
      if (text.startsWith(word, i)) {
        out += JSON.stringify(SENTINEL + word)
        i += word.length
        matched = true
        break
      }
    }
    if (!matched) {
      out += c
      i++
    }
  }
  return out
}

/** scheduler_config.json text as diffusers writes it (infinite numbers as Infinity / -Infinity). */
export function stringifySchedulerConfig(config: SchedulerConfig, indent = 2): string {
  const text = JSON.stringify(
    config,
    (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? SENTINEL + (Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity') : v),
    indent,
  )
  return text.replace(/"\\u0000pyjson:(-?Infinity|NaN)"/g, '$1')
}
