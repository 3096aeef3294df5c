/**
 * Float32 arithmetic helpers for bit-exact emulation of single-precision C/CUDA code in JavaScript.
 * Plain float ops are `Math.fround(a op b)`: a double result rounded once to float equals the
 * correctly rounded float result for +, -, *, / and sqrt (53 >= 2·24 + 2). A fused multiply-add
 * is different: a·b + c rounded to double and then to float can double-round, so fmaf below
 * detects the one case where that happens (a double exactly halfway between two floats) and
 * settles it with the exact error of the double sum.
 */

/** The float32 result of fma(a, b, c) with a single rounding, for float32 inputs a, b, c. */
export function fmaf(a: number, b: number, c: number): number {
  const p = a * b // exact: 24 + 24 bits fit in a double's 53
  const s = p + c
  // TwoSum: the exact rounding error of s (p, c finite and not overflowing here).
  const bb = s - p
  const err = p - (s - bb) + (c - bb)
  const r = Math.fround(s)
  if (err === 0) return r
  // Rounding s to float is wrong only when s sits exactly halfway between two floats, r and
  // r + 2d (d = s - r is exact); then the sign of err says on which side the true value lies.
  const d = s - r
  const other = r + 2 * d
  if (d === 0 || Math.fround(other) !== other) return r
  return (d > 0) === (err > 0) ? other : r
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
