/**
 * Float32 functions as an NVIDIA GPU (sm_70 and newer, e.g. H100/H200) computes them inside
 * curand's Box-Muller, so that torchCuda can reproduce torch.randn on CUDA bit for bit:
 * - logf: CUDA's accurate single-precision log (not fast-math). The operation sequence and
 *   coefficients are those nvcc 13 emits for logf (read from `nvcc -ptx` output): exponent split
 *   around 2/3, a degree-10 polynomial in f = m - 1 by FMA, and i·ln2 added by FMA.
 * - sinApprox / cosApprox: the PTX sin.approx.f32 / cos.approx.f32 that __sincosf compiles to.
 *   On sm_70+ they scale by 1/2π rounding toward zero, then the MUFU unit evaluates a quadratic
 *   from a 64-entry table on the fixed-point fraction of a quadrant and truncates the result.
 *   The table, squarer truncation and term alignments are the hardware model of Carleton's
 *   "PTX Math" (github.com/bcarlet/ptx-math), validated there against real GPUs; the sm_70+
 *   argument scaling in front of it was settled here against the H200 conformance values.
 *
 * SIN_TABLE data: Copyright (c) 2020 Benjamin Carleton, under the MIT License: "Permission is
 * hereby granted, free of charge, to any person obtaining a copy of this software and associated
 * documentation files (the "Software"), to deal in the Software without restriction, including
 * without limitation the rights to use, copy, modify, merge, publish, distribute, sublicense,
 * and/or sell copies of the Software, and to permit persons to whom the Software is furnished to
 * do so, subject to the following conditions: The above copyright notice and this permission
 * notice shall be included in all copies or substantial portions of the Software. THE SOFTWARE IS
 * PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO
 * THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO
 * EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
 * LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN
 * CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE."
 */
import { fmaf, floatFromBits, bitsFromFloat } from './float32.js'

const f = Math.fround

const LOG_C = [0xbe055027, 0x3e1039f6, 0xbdf8cdcc, 0x3e0f2955, 0xbe2ad8b9, 0x3e4ced0b, 0xbe7fff22, 0x3eaaaa78, 0xbf000000].map(floatFromBits)
const LN2 = floatFromBits(0x3f317218)
const TWO_M23 = 2 ** -23

/** CUDA logf for a positive, finite, normal float32 a. */
export function cudaLogf(a: number): number {
  const bits = bitsFromFloat(a)
  const e = (bits - 0x3f2aaaab) & 0xff800000 // exponent, chosen so that m lies in [2/3, 4/3)
  const m = floatFromBits(bits - e)
  const i = fmaf(e, TWO_M23, 0) // (float)e · 2^-23, exact
  const x = f(m - 1)
  let p = fmaf(LOG_C[0]!, x, LOG_C[1]!)
  for (let k = 2; k < LOG_C.length; k++) p = fmaf(p, x, LOG_C[k]!)
  const q = f(p * x)
  const r = fmaf(q, x, x)
  return fmaf(i, LN2, r)
}

// [c0, c1, c2] per interval of a quadrant (64 intervals); c0 in units of 2^-25, c1 of 2^-14, c2 of 2^-10.
// prettier-ignore
const SIN_TABLE = new Uint32Array([
  0x0000000, 0x6489, 0x00e, 0x00c90a7, 0x6482, 0x030, 0x0191f64, 0x646a, 0x04c, 0x025aa3e, 0x6444, 0x06e,
  0x0322f4a, 0x640d, 0x089, 0x03eac9a, 0x63c8, 0x0ab, 0x04b203d, 0x6373, 0x0c9, 0x057884e, 0x630e, 0x0e5,
  0x063e2dd, 0x629b, 0x106, 0x0702e08, 0x6218, 0x124, 0x07c67e4, 0x6186, 0x142, 0x0888e92, 0x60e5, 0x160,
  0x094a02f, 0x6035, 0x17d, 0x0a09ae5, 0x5f76, 0x19a, 0x0ac7cd1, 0x5ea9, 0x1b9, 0x0b84426, 0x5dcd, 0x1d6,
  0x0c3ef15, 0x5ce2, 0x1f1, 0x0cf7bcb, 0x5be9, 0x20d, 0x0dae87f, 0x5ae2, 0x229, 0x0e63374, 0x59cd, 0x245,
  0x0f15aea, 0x58aa, 0x260, 0x0fc5d24, 0x577a, 0x27d, 0x1073876, 0x563c, 0x298, 0x111eb36, 0x54f0, 0x2b0,
  0x11c73b0, 0x5398, 0x2cb, 0x126d054, 0x5232, 0x2e2, 0x130ff7e, 0x50c0, 0x2fb, 0x13affa2, 0x4f42, 0x316,
  0x144cf2f, 0x4db7, 0x32c, 0x14e6ca9, 0x4c21, 0x347, 0x157d690, 0x4a7e, 0x35b, 0x1610b72, 0x48d0, 0x371,
  0x16a09e5, 0x4717, 0x388, 0x172d082, 0x4553, 0x39e, 0x17b5df2, 0x4384, 0x3b2, 0x183b0df, 0x41ab, 0x3c7,
  0x18bc804, 0x3fc8, 0x3dc, 0x193a226, 0x3dda, 0x3ec, 0x19b3e02, 0x3be4, 0x401, 0x1a29a79, 0x39e4, 0x413,
  0x1a9b660, 0x37db, 0x423, 0x1b090a7, 0x35c9, 0x432, 0x1b72832, 0x33b0, 0x445, 0x1bd7c09, 0x318e, 0x453,
  0x1c38b2c, 0x2f65, 0x463, 0x1c954b0, 0x2d34, 0x470, 0x1ced7ae, 0x2afc, 0x47c, 0x1d4134c, 0x28be, 0x48a,
  0x1d906bd, 0x2679, 0x494, 0x1ddb13a, 0x242f, 0x4a1, 0x1e2120e, 0x21df, 0x4ac, 0x1e6288f, 0x1f89, 0x4b3,
  0x1e9f416, 0x1d2f, 0x4bd, 0x1ed7411, 0x1ad0, 0x4c4, 0x1f0a7ed, 0x186e, 0x4ce, 0x1f38f3c, 0x1607, 0x4d4,
  0x1f6297e, 0x139d, 0x4da, 0x1f87650, 0x1130, 0x4df, 0x1fa7559, 0x0ec0, 0x4e2, 0x1fc2647, 0x0c4f, 0x4ea,
  0x1fd88d9, 0x09db, 0x4ec, 0x1fe9cdd, 0x0765, 0x4ec, 0x1ff621e, 0x04ef, 0x4ef, 0x1ffd886, 0x0278, 0x4f1,
])

const MASK17 = 0x1ffff
const MASK19 = 0x7ffff

/** x² for a 17-bit x, less the partial products the hardware squarer truncates. */
function squareApproxSlow(x: number): number {
  // Bits of x deposited on the even positions (the squarer's antidiagonal), low 19 columns kept.
  let diag = 0
  for (let k = 0; k < 10; k++) if ((x >>> k) & 1) diag += 2 ** (2 * k)
  let error = diag & MASK19
  for (let i = 0; i < 9; i++) {
    if (((x >>> i) & 1) === 0) continue
    // Row i of the folded partial-product matrix: x << (i + 1) with the low 2i + 2 bits cleared.
    const row = ((x * 2 ** (i + 1)) % 2 ** 32) - ((x * 2 ** (i + 1)) % 2 ** (2 * i + 2))
    error += row % 2 ** 19
  }
  return error
}

// The squarer's truncation error for every 17-bit input, built on first use (512 KiB).
let squareError: Uint32Array | null = null

function squareApprox(x: number): number {
  if (squareError === null) {
    squareError = new Uint32Array(MASK17 + 1)
    for (let v = 0; v <= MASK17; v++) squareError[v] = squareApproxSlow(v)
  }
  return x * x - squareError[x]!
}

/** Positive x truncated (rounded toward zero) to float32. */
function truncf(x: number): number {
  const r = Math.fround(x)
  return r > x ? floatFromBits(bitsFromFloat(r) - 1) : r
}

/**
 * The MUFU quadratic on a 23-bit quadrant fraction: sin(π/2 · reduced / 2^23), as a float32
 * magnitude with the sum truncated (not rounded) to 24 significant bits.
 */
function polySincos(reduced: number, negative: boolean): number {
  const xh = (reduced >>> 17) & 63
  const xl = reduced & MASK17
  const c0 = SIN_TABLE[3 * xh]!
  const c1 = SIN_TABLE[3 * xh + 1]!
  const c2 = SIN_TABLE[3 * xh + 2]!
  // S = c0·2^31 + c1·xl·2^19 − c2·sq(xl), in units of 2^-56 (up to 2^57: beyond a double), kept
  // exactly as S = hi·2^19 + lo with 0 ≤ lo < 2^19.
  const a = c0 * 4096 + c1 * xl // (c0·2^31 + c1·xl·2^19) / 2^19, < 2^38
  const b = c2 * squareApprox(xl) // < 2^45, exact
  const bHi = Math.floor(b / 524288)
  const bLo = b - bHi * 524288
  const hi = a - bHi - (bLo > 0 ? 1 : 0)
  const lo = bLo > 0 ? 524288 - bLo : 0
  let v: number
  if (hi <= 0 && lo === 0) {
    v = 0
  } else if (hi >= 2 ** 23) {
    // At least 43 significant bits: truncating to 24 only looks at hi (exact in a double).
    v = truncf(hi) * 2 ** -37
  } else {
    v = truncf(hi * 524288 + lo) * 2 ** -56 // < 2^42: exact
  }
  return negative ? -v : v
}

const INV_2PI = floatFromBits(0x3e22f983)

/** float32 product rounded toward zero. */
function mulRz(a: number, b: number): number {
  const p = a * b // exact for float32 inputs
  const r = Math.fround(p)
  if (Math.abs(r) <= Math.abs(p)) return r
  return floatFromBits(bitsFromFloat(r) - 1) // one ulp towards zero (sign-magnitude bits)
}

/** Quadrant (0..3) and 23-bit fraction of a quadrant for revolutions t ≥ 0. */
function reduceRevolutions(t: number, out: Int32Array): void {
  const fixed = Math.floor(t * 2 ** 25) // 4t in 2.23 fixed point, truncated
  out[0] = Math.floor(fixed / 2 ** 23) & 3
  out[1] = fixed % 2 ** 23
}

const red = new Int32Array(2)

/** PTX sin.approx.f32 on sm_70+ for finite non-negative x (curand's angles lie in [0, 2π)). */
export function sinApprox(x: number): number {
  reduceRevolutions(mulRz(x, INV_2PI), red)
  const q = red[0]!
  let r = red[1]!
  if (q & 1) r = ~r & 0x7fffff
  return polySincos(r, (q & 2) !== 0)
}

/** PTX cos.approx.f32 on sm_70+ for finite non-negative x. */
export function cosApprox(x: number): number {
  reduceRevolutions(mulRz(x, INV_2PI), red)
  const q = red[0]!
  let r = red[1]!
  if ((q & 1) === 0) r = ~r & 0x7fffff
  return polySincos(r, ((q + 1) & 2) !== 0)
}

/** __sincosf on sm_70+: writes [sin.approx(x), cos.approx(x)] sharing one argument reduction. */
export function sincosApprox(x: number, out: Float64Array): void {
  reduceRevolutions(mulRz(x, INV_2PI), red)
  const q = red[0]!
  const r = red[1]!
  const rc = ~r & 0x7fffff
  out[0] = polySincos(q & 1 ? rc : r, (q & 2) !== 0)
  out[1] = polySincos(q & 1 ? r : rc, ((q + 1) & 2) !== 0)
}
