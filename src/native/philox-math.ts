/**
 * The Philox4x32-10 normal-noise stream, defined once here in TypeScript. native/philox_math.h (used
 * by the CUDA kernel) transcribes this file operation for operation; native/philox.cc computes the same
 * float32 operations in vectorisable batches. All three give identical bits (test/native-philox.test.ts,
 * test/gpu). Spec:
 *   seed: bigint in [0, 2^64): key k0 = low 32 bits, k1 = high 32 bits.
 *   value j = offset + i; block b = floor(j / 4), lane = j mod 4; counter = (b mod 2^32, floor(b / 2^32), 0, 0).
 *   Philox4x32-10 (Random123) gives r0..r3; Box-Muller on (r0, r1) -> lanes 0, 1 and (r2, r3) -> lanes 2, 3:
 *     u = ((r_even >>> 8) + 1) · 2^-24 in (0, 1]; angle = 2π · (r_odd >>> 8) / 2^24;
 *     radius = sqrt(-2 ln u); even lane = radius · cos(angle), odd lane = radius · sin(angle).
 * ln, sin and cos are fixed float32 polynomial sequences made only of +, −, ×, ÷ and sqrt, each
 * rounded to float32 (Math.fround after every operation; a double operation on float32 operands
 * rounded once to float32 is the correctly rounded float32 operation, so C++ `float` arithmetic
 * without contraction and CUDA's _rn intrinsics give the same bits). Range reductions are exact
 * integer arithmetic.
 */

const f = Math.fround

export const PHILOX_M0 = 0xd2511f53
export const PHILOX_M1 = 0xcd9e8d57
export const PHILOX_W0 = 0x9e3779b9
export const PHILOX_W1 = 0xbb67ae85

/** High 32 bits of the 64-bit product of two uint32 (exact, using 16-bit halves in doubles). */
function mulhi32(a: number, b: number): number {
  const ah = a >>> 16
  const al = a & 0xffff
  const bh = b >>> 16
  const bl = b & 0xffff
  const mid = ah * bl + al * bh + ((al * bl) >>> 16) // < 2^34: exact
  return (ah * bh + Math.floor(mid / 65536)) >>> 0
}

/** Philox4x32-10 (Random123): counter (c0..c3), key (k0, k1) -> four uint32 written into `out`. */
export function philox4x32_10(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number, out: Uint32Array | number[]): void {
  c0 >>>= 0
  c1 >>>= 0
  c2 >>>= 0
  c3 >>>= 0
  k0 >>>= 0
  k1 >>>= 0
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k0 = (k0 + PHILOX_W0) >>> 0
      k1 = (k1 + PHILOX_W1) >>> 0
    }
    const hi0 = mulhi32(PHILOX_M0, c0)
    const lo0 = Math.imul(PHILOX_M0, c0) >>> 0
    const hi1 = mulhi32(PHILOX_M1, c2)
    const lo1 = Math.imul(PHILOX_M1, c2) >>> 0
    const n0 = (hi1 ^ c1 ^ k0) >>> 0
    const n2 = (hi0 ^ c3 ^ k1) >>> 0
    c0 = n0
    c1 = lo1
    c2 = n2
    c3 = lo0
  }
  out[0] = c0
  out[1] = c1
  out[2] = c2
  out[3] = c3
}

/** A float32 from its IEEE bit pattern (the C++/CUDA code uses the same patterns). */
function bitsF32(bits: number): number {
  const b = new Uint32Array([bits])
  return new Float32Array(b.buffer)[0]!
}
const LN2_HI = bitsF32(0x3f317180) // ln 2, upper bits: few mantissa bits, so dk·LN2_HI is exact
const LN2_LO = bitsF32(0x3717f7d1) // ln 2 − LN2_HI
// minimax coefficients of (ln(1+f) − 2s)/… in s = f/(2+f), |s| <= 0.1716 (the classic logf set)
const LG1 = bitsF32(0x3f2aaaaa)
const LG2 = bitsF32(0x3ecccce1)
const LG3 = bitsF32(0x3e91e9ee)
const LG4 = bitsF32(0x3e789e26)
/** 24-bit mantissas at or above this (≈ sqrt(2)·2^23) are halved so that m lies in [sqrt(2)/2, sqrt(2)). */
const SQRT2_MANT = 0xb504f3

/**
 * ln(k · 2^-24) for an integer k in [1, 2^24], in float32. The exponent comes from the integer
 * (exact); the mantissa m = k / 2^e in [sqrt(2)/2, sqrt(2)) goes through a fixed minimax polynomial
 * in s = f/(2+f), f = m − 1 (exact by Sterbenz).
 */
export function lnUnitF32(k: number): number {
  // e = floor(log2 k); normalise the mantissa to 24 bits: mi = k · 2^(23-e) in [2^23, 2^24)
  const e = 31 - Math.clz32(k)
  let mi = k * 2 ** (23 - e)
  let ex = e - 24
  if (mi >= SQRT2_MANT) {
    // m in [sqrt 2, 2): use m/2 and bump the exponent; mi/2 may be a half-integer, still 24 bits
    ex += 1
    mi = mi / 2
  }
  const m = f(mi * 2 ** -23) // exact (power-of-two scale of a float32 value)
  const fm = f(m - 1) // exact
  const s = f(fm / f(2 + fm))
  const z = f(s * s)
  const w = f(z * z)
  const t1 = f(w * f(LG2 + f(w * LG4)))
  const t2 = f(z * f(LG1 + f(w * LG3)))
  const r = f(t2 + t1)
  const hfsq = f(f(0.5 * fm) * fm)
  const dk = ex // small integer, exact in float32
  // s·(hfsq + R) + dk·ln2_lo − hfsq + fm + dk·ln2_hi, left to right
  let acc = f(s * f(hfsq + r))
  acc = f(acc + f(dk * LN2_LO))
  acc = f(acc - hfsq)
  acc = f(acc + fm)
  acc = f(acc + f(dk * LN2_HI))
  return acc
}

// Taylor coefficients rounded to float32; |x| <= π/4 keeps the truncation error below 1 ulp.
const S1 = f(-1 / 6)
const S2 = f(1 / 120)
const S3 = f(-1 / 5040)
const S4 = f(1 / 362880)
const C1 = f(-1 / 2)
const C2 = f(1 / 24)
const C3 = f(-1 / 720)
const C4 = f(1 / 40320)
const C5 = f(-1 / 3628800)
/** π / 2^23 in float32: the angle step of one unit of the 24-bit angle integer. */
const ANGLE_STEP = f(Math.PI / 2 ** 23)

/**
 * sin and cos of 2π·n/2^24 for an integer n in [0, 2^24), in float32. The quadrant comes from the
 * top bits of n (exact); the remainder r in [-2^21, 2^21) gives x = r·π/2^23 in [-π/4, π/4).
 * Returns [sin, cos] through `out`.
 */
export function sinCosTurnF32(n: number, out: Float64Array | number[]): void {
  let q = n >>> 22
  let r = n & 0x3fffff
  if (r >= 0x200000) {
    r -= 0x400000
    q += 1
  }
  q &= 3
  const x = f(r * ANGLE_STEP)
  const z = f(x * x)
  const sp = f(S1 + f(z * f(S2 + f(z * f(S3 + f(z * S4))))))
  const sn = f(x + f(f(x * z) * sp))
  const cp = f(C1 + f(z * f(C2 + f(z * f(C3 + f(z * f(C4 + f(z * C5))))))))
  const cs = f(1 + f(z * cp))
  let sv: number, cv: number
  switch (q) {
    case 0:
      sv = sn
      cv = cs
      break
    case 1:
      sv = cs
      cv = -sn
      break
    case 2:
      sv = -sn
      cv = -cs
      break
    default:
      sv = -cs
      cv = sn
  }
  out[0] = sv
  out[1] = cv
}

const scratch4 = new Uint32Array(4)
const scratchSc = new Float64Array(2)
const pair = new Float64Array(2)

/** Box-Muller of one (even, odd) pair of uint32 words: [radius·cos, radius·sin] into `out`. */
export function boxMullerF32(rEven: number, rOdd: number, out: Float64Array): void {
  const k = (rEven >>> 8) + 1
  const ln = lnUnitF32(k)
  const radius = f(Math.sqrt(f(-2 * ln)))
  sinCosTurnF32(rOdd >>> 8, scratchSc)
  out[0] = f(radius * scratchSc[1]!)
  out[1] = f(radius * scratchSc[0]!)
}

/** Splits a seed into the Philox key words; throws RangeError outside [0, 2^64). */
export function seedKey(seed: bigint): [number, number] {
  if (typeof seed !== 'bigint' || seed < 0n || seed >= 1n << 64n) throw new RangeError('seed must be a bigint in [0, 2^64)')
  return [Number(seed & 0xffffffffn), Number(seed >> 32n)]
}

/**
 * Fills out[i] = normal value (offset + i) of the stream of `seed`. No argument checks: callers
 * (reference.ts, rng) validate first.
 */
export function philoxNormalFill(k0: number, k1: number, offset: number, out: Float32Array): void {
  const n = out.length
  let i = 0
  while (i < n) {
    const j = offset + i
    const b = Math.floor(j / 4)
    const lane = j - b * 4
    const bLo = b % 4294967296
    const bHi = Math.floor(b / 4294967296)
    philox4x32_10(bLo, bHi, 0, 0, k0, k1, scratch4)
    // lanes 0,1 come from (r0, r1), lanes 2,3 from (r2, r3); skip a pair that is not needed
    for (let l = lane; l < 4 && i < n; ) {
      const p = l >> 1
      boxMullerF32(scratch4[2 * p]!, scratch4[2 * p + 1]!, pair)
      if ((l & 1) === 0) {
        out[i++] = pair[0]!
        l++
        if (i < n) {
          out[i++] = pair[1]!
          l++
        }
      } else {
        out[i++] = pair[1]!
        l++
      }
    }
  }
}
