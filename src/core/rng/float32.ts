/**
 * Float32 arithmetic helpers for bit-exact emulation of single-precision C/CUDA code in JavaScript.
 * Plain float ops are `Math.fround(a op b)`: a double result rounded once to float equals the
 * correctly rounded float result for +, -, *, / and sqrt (53 >= 2·24 + 2). A fused multiply-add
 * is different: a·b + c rounded to double and then to float can double-round, so fmaf below
 * rounds to odd in double first, which makes the final rounding to float exact.
 */
const f64 = new Float64Array(1)
const u32 = new Uint32Array(f64.buffer)
// Index of the high and low 32-bit words of a double in this platform's byte order.
const LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1
const LO = LITTLE ? 0 : 1
const HI = 1 - LO

/** The float32 result of fma(a, b, c) with a single rounding, for float32 inputs a, b, c. */
export function fmaf(a: number, b: number, c: number): number {
  const p = a * b // exact: 24 + 24 bits fit in a double's 53
  const s = p + c
  // TwoSum: the exact rounding error of s (p, c finite and not overflowing here).
  const bb = s - p
  const err = (p - (s - bb)) + (c - bb)
  if (err === 0 || !Number.isFinite(s)) return Math.fround(s)
  f64[0] = s
  if ((u32[LO]! & 1) === 0) {
    // Round to odd: step s one ulp towards the exact value so the final rounding is single.
    // The low word is even, so +1 never carries; -1 borrows only from a zero low word.
    if ((s > 0) === (err > 0)) {
      u32[LO] = u32[LO]! + 1
    } else if (u32[LO] === 0) {
      u32[LO] = 0xffffffff
      u32[HI] = u32[HI]! - 1
    } else {
      u32[LO] = u32[LO]! - 1
    }
  }
  return Math.fround(f64[0]!)
}

/** Reinterprets float32 bits (a uint32) as a number, and back. */
const f32 = new Float32Array(1)
const i32 = new Int32Array(f32.buffer)
export function floatFromBits(bits: number): number {
  i32[0] = bits
  return f32[0]!
}
export function bitsFromFloat(x: number): number {
  f32[0] = x
  return i32[0]!
}
