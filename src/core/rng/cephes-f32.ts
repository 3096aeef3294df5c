/**
 * Single-precision natural log and sin/cos computed step for step as torch's AVX2 randn kernel
 * computes them (ATen's avx_mathfun.h: Cephes polynomials, after Pommier's sse_mathfun), so that
 * torchCpu reproduces the vectorised path bit for bit. Every float op is rounded to float32, and
 * the multiply-adds are fused exactly where the compiler of torch's release builds fuses them
 * (GCC contracts `a*b + c` of the intrinsics into FMA instructions under -mfma); the fused/unfused
 * choice was settled against the conformance vectors (see test/rng-torch.test.ts).
 */
import { fmaf, floatFromBits, bitsFromFloat } from './float32.js'

const f = Math.fround

const SQRTHF = f(0.707106781186547524)
const LOG_P = [
  7.0376836292e-2, -1.151461031e-1, 1.167699874e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1,
  -2.4999993993e-1, 3.3333331174e-1,
].map(f)
const LOG_Q1 = f(-2.1219444e-4)
const LOG_Q2 = f(0.693359375)

/** Whether multiply-adds are fused (FMA) in the emulated build. */
export interface CephesOptions {
  fused: boolean
}

function madd(a: number, b: number, c: number, fused: boolean): number {
  return fused ? fmaf(a, b, c) : f(f(a * b) + c)
}

/** log(x) for a positive normal float32 x, as avx_mathfun's log256_ps computes one lane. */
export function cephesLogf(x: number, fused: boolean): number {
  const bits = bitsFromFloat(x)
  let e = f((bits >>> 23) - 127)
  let m = floatFromBits((bits & ~0x7f800000) | 0x3f000000) // mantissa in [0.5, 1)
  e = f(e + 1)
  const small = m < SQRTHF
  const tmp = small ? m : 0
  m = f(m - 1)
  if (small) e = f(e - 1)
  m = f(m + tmp)
  const z = f(m * m)
  let y = LOG_P[0]!
  for (let k = 1; k < 9; k++) y = madd(y, m, LOG_P[k]!, fused)
  y = f(y * m)
  // y*z + e*q1: GCC fuses the first multiply in statement order (y*z), e*q1 stays rounded.
  y = madd(y, z, f(e * LOG_Q1), fused)
  y = f(y - f(z * 0.5)) // z*0.5 is exact: fused or not, the same
  const xy = f(m + y)
  return f(xy + f(e * LOG_Q2)) // e*q2 is exact (q2 has 9 significant bits)
}

const FOPI = f(1.27323954473516)
const DP1 = f(-0.78515625)
const DP2 = f(-2.4187564849853515625e-4)
const DP3 = f(-3.77489497744594108e-8)
const SIN_P0 = f(-1.9515295891e-4)
const SIN_P1 = f(8.3321608736e-3)
const SIN_P2 = f(-1.6666654611e-1)
const COS_P0 = f(2.443315711809948e-5)
const COS_P1 = f(-1.388731625493765e-3)
const COS_P2 = f(4.166664568298827e-2)

/**
 * sin(x) and cos(x) for a float32 x in [0, 8192), as avx_mathfun's sincos256_ps computes one
 * lane. Writes [sin, cos] into out.
 */
export function cephesSincosf(x: number, fused: boolean, out: Float64Array | number[]): void {
  const sinSign = x < 0 || Object.is(x, -0)
  let ax = Math.abs(x)
  const scaled = f(ax * FOPI)
  let j = Math.trunc(scaled) | 0
  j = (j + 1) & ~1
  const yq = f(j)
  const swapSin = (j & 4) !== 0
  // In octants where (j & 2) is clear the sine polynomial gives sin; elsewhere the two swap.
  const direct = (j & 2) === 0
  const cosSign = ((j - 2) & 4) === 0 // andnot(j - 2, 4): sign flips when bit 2 of j-2 is clear
  // Extended-precision reduction x - j·π/4 in three parts.
  ax = madd(yq, DP1, ax, fused)
  ax = madd(yq, DP2, ax, fused)
  ax = madd(yq, DP3, ax, fused)
  const z = f(ax * ax)
  let yc = madd(COS_P0, z, COS_P1, fused)
  yc = madd(yc, z, COS_P2, fused)
  yc = f(yc * z)
  // yc*z - z*0.5: the first multiply (yc*z) is the fused one; z*0.5 is exact.
  yc = fused ? fmaf(yc, z, -f(z * 0.5)) : f(f(yc * z) - f(z * 0.5))
  yc = f(yc + 1)
  let ys = madd(SIN_P0, z, SIN_P1, fused)
  ys = madd(ys, z, SIN_P2, fused)
  ys = f(ys * z)
  ys = madd(ys, ax, ax, fused)
  let s = direct ? ys : yc
  let c = direct ? yc : ys
  if (sinSign !== swapSin) s = -s
  if (cosSign) c = -c
  out[0] = s
  out[1] = c
}
