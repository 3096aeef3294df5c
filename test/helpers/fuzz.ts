/**
 * Fuzzing primitives shared by the CI fuzz tests (test/fuzz-*.test.ts) and the long-running fuzzer
 * (scripts/fuzz.ts): a seeded PRNG, byte mutators, JSON value generators/mutators, and the rule that
 * decides whether an exception is a clean refusal (a DiffuseError with a stable code) or a finding.
 * Everything is deterministic for a given seed, so a CI failure reproduces from its seed and case index.
 */
import { DiffuseError } from '../../src/errors.js'

/** A fuzz input: one or more named files (single-file targets use one name). */
export type Files = Record<string, Uint8Array>

export type Rng = () => number

/** mulberry32: small, fast, good enough to drive mutations; returns [0, 1). */
export function rng(seed: number): Rng {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export const int = (r: Rng, n: number): number => Math.floor(r() * n)
export const pick = <T>(r: Rng, xs: readonly T[]): T => xs[int(r, xs.length)]!
/** Mostly small numbers, sometimes large: lengths and counts that hit both edge and bulk cases. */
export const smallish = (r: Rng, max: number): number => Math.min(max, Math.floor(Math.pow(r(), 3) * (max + 1)))

/** Byte values and multi-byte integers that tend to sit on parser boundaries. */
const INTERESTING_8 = [0, 1, 0x7f, 0x80, 0xff, 0x10, 0x20, 0x40]
const INTERESTING_32 = [0, 1, 2, 3, 4, 7, 8, 15, 16, 17, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe]

/** One random byte-level edit. Each returns a new array (inputs are never mutated in place). */
export const byteMutators: Record<string, (b: Uint8Array, r: Rng) => Uint8Array> = {
  bitFlip(b, r) {
    if (!b.length) return b
    const o = b.slice()
    const n = 1 + smallish(r, 7)
    for (let i = 0; i < n; i++) o[int(r, o.length)]! ^= 1 << int(r, 8)
    return o
  },
  byteSet(b, r) {
    if (!b.length) return b
    const o = b.slice()
    o[int(r, o.length)] = r() < 0.5 ? pick(r, INTERESTING_8) : int(r, 256)
    return o
  },
  truncate(b, r) {
    return b.slice(0, int(r, b.length + 1))
  },
  insert(b, r) {
    const at = int(r, b.length + 1)
    const n = 1 + smallish(r, 64)
    const ins = new Uint8Array(n)
    const fill = r() < 0.5 ? int(r, 256) : -1
    for (let i = 0; i < n; i++) ins[i] = fill >= 0 ? fill : int(r, 256)
    const o = new Uint8Array(b.length + n)
    o.set(b.subarray(0, at))
    o.set(ins, at)
    o.set(b.subarray(at), at + n)
    return o
  },
  delete(b, r) {
    if (!b.length) return b
    const at = int(r, b.length)
    const n = 1 + smallish(r, Math.min(64, b.length - at - 1))
    const o = new Uint8Array(b.length - n)
    o.set(b.subarray(0, at))
    o.set(b.subarray(at + n), at)
    return o
  },
  /** Overwrites an aligned-or-not 16/32-bit field near the start (headers) with a boundary value. */
  headerField(b, r) {
    if (b.length < 4) return b
    const o = b.slice()
    const dv = new DataView(o.buffer)
    const limit = Math.min(o.length - 4, r() < 0.8 ? 128 : o.length - 4)
    const at = int(r, limit + 1)
    const v = r() < 0.8 ? pick(r, INTERESTING_32) : (r() * 2 ** 32) >>> 0
    const little = r() < 0.7
    if (r() < 0.5) dv.setUint32(at, v >>> 0, little)
    else dv.setUint16(at, v & 0xffff, little)
    return o
  },
  /** Copies a block of the input over another place (repeats chunks, shuffles structure). */
  duplicate(b, r) {
    if (b.length < 2) return b
    const from = int(r, b.length)
    const n = 1 + smallish(r, Math.min(256, b.length - from - 1))
    const to = int(r, b.length + 1)
    const o = new Uint8Array(b.length + n)
    o.set(b.subarray(0, to))
    o.set(b.subarray(from, from + n), to)
    o.set(b.subarray(to), to + n)
    return o
  },
  /** Adds/subtracts a small delta to a byte (length fields off by one). */
  arith(b, r) {
    if (!b.length) return b
    const o = b.slice()
    const at = int(r, o.length)
    o[at] = (o[at]! + (r() < 0.5 ? 1 : -1) * (1 + int(r, 16))) & 0xff
    return o
  },
}
const BYTE_MUTATOR_NAMES = Object.keys(byteMutators)

/** Applies 1..maxEdits random byte edits (a stacked "havoc" round). */
export function mutateBytes(b: Uint8Array, r: Rng, maxEdits = 6): Uint8Array {
  let o = b
  const n = 1 + smallish(r, maxEdits - 1)
  for (let i = 0; i < n; i++) o = byteMutators[pick(r, BYTE_MUTATOR_NAMES)]!(o, r)
  return o
}

/** Splices the head of one input with the tail of another. */
export function splice(a: Uint8Array, b: Uint8Array, r: Rng): Uint8Array {
  const i = int(r, a.length + 1)
  const j = int(r, b.length + 1)
  const o = new Uint8Array(i + b.length - j)
  o.set(a.subarray(0, i))
  o.set(b.subarray(j), i)
  return o
}

// ---- JSON ----

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json }

const NUMBERS = [0, -0, 1, -1, 0.5, 2, 3, 7, 1e-12, 1e-300, 5e-324, 1e6, 1e30, 1e308, -1e308, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 999999, 1000, 1000000, 0.999, 1.0000001]
const STRINGS = ['', ' ', 'a', 'linear', 'leading', 'trailing', 'linspace', 'epsilon', 'v_prediction', 'sample', 'audio', 'image', 'pointcloud', '__proto__', 'constructor', 'null', '1', 'NaN', 'Infinity', '\u0000', '\ud800', 'é', '🙂', '../../etc/passwd', 'x'.repeat(300)]

/** A random JSON value of bounded depth/size (keys sometimes drawn from `keys`, to hit known fields). */
export function randomJson(r: Rng, depth = 3, keys: readonly string[] = []): Json {
  const k = int(r, depth > 0 ? 9 : 6)
  switch (k) {
    case 0:
      return null
    case 1:
      return r() < 0.5
    case 2:
      return pick(r, NUMBERS) * (r() < 0.2 ? -1 : 1)
    case 3:
      return r() < 0.5 ? int(r, 2000) - 10 : r() * 10 - 2
    case 4:
      return r() < 0.7 ? pick(r, STRINGS) : String.fromCharCode(...Array.from({ length: smallish(r, 20) }, () => int(r, 0x3000)))
    case 5:
      return keys.length ? pick(r, keys) : pick(r, STRINGS)
    case 6:
    case 7: {
      const n = smallish(r, r() < 0.05 ? 3000 : 12)
      const elem = r() < 0.6 ? () => pick(r, NUMBERS) * (r() < 0.5 ? 1 : r()) : () => randomJson(r, depth - 1, keys)
      return Array.from({ length: n }, elem)
    }
    default: {
      const o: Record<string, Json> = {}
      const n = smallish(r, 8)
      for (let i = 0; i < n; i++) o[keys.length && r() < 0.7 ? pick(r, keys) : pick(r, STRINGS)] = randomJson(r, depth - 1, keys)
      return o
    }
  }
}

/** One structural edit of a JSON document: replace/delete/add a value somewhere inside it. */
export function mutateJson(v: Json, r: Rng, keys: readonly string[] = [], depth = 0): Json {
  if (v !== null && typeof v === 'object' && depth < 6 && r() < 0.75) {
    if (Array.isArray(v)) {
      const o = v.slice()
      const op = int(r, 4)
      if (op === 0 || !o.length) o.push(randomJson(r, 2, keys))
      else if (op === 1) o.splice(int(r, o.length), 1)
      else if (op === 2) o.length = int(r, o.length)
      else {
        const i = int(r, o.length)
        o[i] = mutateJson(o[i]!, r, keys, depth + 1)
      }
      return o
    }
    const o = { ...v }
    const names = Object.keys(o)
    const op = int(r, 4)
    if (op === 0 || !names.length) o[keys.length && r() < 0.8 ? pick(r, keys) : pick(r, STRINGS)] = randomJson(r, 2, keys)
    else if (op === 1) delete o[pick(r, names)]
    else {
      const k = pick(r, names)
      o[k] = mutateJson(o[k]!, r, keys, depth + 1)
    }
    return o
  }
  // replace a leaf (or a whole container) with a random value, often of the same kind
  if (typeof v === 'number' && r() < 0.5) return pick(r, [v + 1, v - 1, -v, v * 2, v / 2, Math.round(v), v * 1e6, 0, pick(r, NUMBERS)])
  if (typeof v === 'string' && r() < 0.3) return r() < 0.5 ? v.slice(0, int(r, v.length + 1)) : v + pick(r, STRINGS)
  return randomJson(r, 2, keys)
}

const enc = new TextEncoder()
const dec = new TextDecoder('utf-8', { fatal: false })

/** Mutates a JSON file's bytes: mostly structurally (parse, edit, re-serialise), sometimes as raw bytes. */
export function mutateJsonBytes(b: Uint8Array, r: Rng, keys: readonly string[] = []): Uint8Array {
  if (r() < 0.85) {
    let parsed: Json | undefined
    try {
      parsed = JSON.parse(dec.decode(b)) as Json
    } catch {
      parsed = undefined
    }
    if (parsed !== undefined) {
      let v = parsed
      const n = 1 + smallish(r, 3)
      for (let i = 0; i < n; i++) v = mutateJson(v, r, keys)
      return enc.encode(r() < 0.5 ? JSON.stringify(v) : JSON.stringify(v, null, 1))
    }
  }
  return mutateBytes(b, r, 3)
}

export const textBytes = (s: string): Uint8Array => enc.encode(s)
export const bytesText = (b: Uint8Array): string => dec.decode(b)

// ---- outcome rules ----

/** The codes a parser may refuse input with (a refusal with any of these is the expected behaviour). */
export const REFUSAL_CODES = new Set([
  'INVALID_ARGUMENT',
  'INVALID_CONFIG',
  'UNKNOWN_SAMPLER',
  'UNKNOWN_MODEL',
  'FILE_FORMAT',
  'FILE_NOT_FOUND',
  'MODEL_LOAD',
  'MODEL_IO',
  'UNSUPPORTED',
  'NON_FINITE',
  'SHAPE_MISMATCH',
])

/** Thrown by a target's own checks when a parser returned but its result is wrong ("silent garbage"). */
export class GarbageResult extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'GarbageResult'
  }
}

export type Outcome = { kind: 'ok' } | { kind: 'refused'; code: string } | { kind: 'failure'; why: string; message: string }

/** Sorts an exception into a clean refusal or a finding. */
export function classify(e: unknown): Outcome {
  if (e instanceof GarbageResult) return { kind: 'failure', why: 'garbage', message: e.message }
  if (e instanceof DiffuseError) {
    if (!REFUSAL_CODES.has(e.code)) return { kind: 'failure', why: 'unexpected-code', message: `${e.code}: ${e.message}` }
    if (!e.message || e.message.length < 10) return { kind: 'failure', why: 'unclear-message', message: `${e.code}: ${JSON.stringify(e.message)}` }
    return { kind: 'refused', code: e.code }
  }
  const name = e instanceof Error ? e.constructor.name : typeof e
  const message = e instanceof Error ? `${name}: ${e.message}\n${(e.stack ?? '').split('\n').slice(1, 6).join('\n')}` : String(e)
  return { kind: 'failure', why: 'non-DiffuseError', message }
}

// ---- recorded failures (test/fixtures/fuzz/<target>/<id>.json) ----

export interface RecordedFailure {
  target: string
  /** 'non-DiffuseError' | 'garbage' | 'unexpected-code' | 'unclear-message' | 'crash' | 'hang' */
  why: string
  message: string
  /** file name → base64 bytes */
  files: Record<string, string>
  /** when it was found, and whether the parser has since been fixed (the replay test expects a clean outcome) */
  found: string
}

export function encodeFiles(files: Files): Record<string, string> {
  return Object.fromEntries(Object.entries(files).map(([k, v]) => [k, Buffer.from(v).toString('base64')]))
}

export function decodeFiles(files: Record<string, string>): Files {
  return Object.fromEntries(Object.entries(files).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))]))
}

/** A short stable id for an input (FNV-1a over names and bytes). */
export function inputId(files: Files): string {
  let h = 0x811c9dc5
  for (const [k, v] of Object.entries(files).sort(([a], [b]) => (a < b ? -1 : 1))) {
    for (const c of enc.encode(k)) h = Math.imul(h ^ c, 0x01000193)
    for (const c of v) h = Math.imul(h ^ c, 0x01000193)
  }
  return (h >>> 0).toString(16).padStart(8, '0')
}
