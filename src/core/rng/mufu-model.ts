/**
 * A bit-exact model of how an sm_70+ NVIDIA GPU computes PTX sin.approx.f32 / cos.approx.f32
 * (what __sincosf, and so curand's Box-Muller, compiles to), for finite x ≥ 0:
 *
 * 1. ptxas puts a float32 multiply by 1/2π (0x3e22f983), rounded toward zero, in front of the
 *    special-function unit (MUFU), which takes its argument in turns t.
 * 2. The unit reads 4t as unsigned fixed point with 23 fraction bits (truncating): the two low
 *    integer bits are the quadrant, the fraction r a position within it. Sine in odd quadrants
 *    and cosine in even ones use the complement of r (sin(π/2·(1 − f)) = cos(π/2·f)); quadrants
 *    2–3 (sine) or 1–2 (cosine) negate.
 * 3. r splits into a 6-bit interval index (64 intervals per quadrant) and a 17-bit offset xl.
 *    The magnitude is c0 + c1·xl − c2·xl² with per-interval integer coefficients (c0 in units of
 *    2^-25, c1 of 2^-14·2^-23, c2 of 2^-10·2^-46), summed exactly except that the squarer leaves
 *    out its low partial products (mufuSquare), and the sum is truncated, not rounded, to a
 *    float32.
 *
 * The structure (steps 2–3, the coefficient units and the squarer) follows the hardware model
 * that B. Carleton's ptx-math project described publicly; this file is our own implementation of
 * it. Step 1 was settled against the H200 values in ../shared/conformance/rng. The coefficients
 * are not part of the model: they are measured (training/rng/measure_mufu.cu) and fitted
 * (training/rng/fit_mufu.ts) into mufu-table.ts, and passed in here as `table` = 64 × [c0, c1, c2].
 */
import { floatFromBits, bitsFromFloat } from './float32.js'

const OFFSET_BITS = 17
const OFFSET_MASK = (1 << OFFSET_BITS) - 1
const FRACTION_MASK = 0x7fffff
/** Bits of weight below 2^DROPPED_BELOW in the squarer's partial-product array are never summed. */
const DROPPED_BELOW = 19

/**
 * What the squarer loses for offset xl: the sum of the partial-product bits it never adds.
 * Squaring adds, for every pair of set bits i < j, one bit of weight 2^(i+j+1) (the two equal
 * products x_i·x_j and x_j·x_i merged into one bit a column higher), and for every set bit k one
 * bit of weight 2^(2k); any of those below 2^19 is left out.
 */
function squarerLoss(xl: number): number {
  let loss = 0
  for (let i = 0; i < OFFSET_BITS; i++) {
    if (((xl >>> i) & 1) === 0) continue
    if (2 * i < DROPPED_BELOW) loss += 2 ** (2 * i)
    for (let j = i + 1; i + j + 1 < DROPPED_BELOW && j < OFFSET_BITS; j++) {
      if ((xl >>> j) & 1) loss += 2 ** (i + j + 1)
    }
  }
  return loss
}

// The loss for every 17-bit offset, built on first use (512 KiB): one lookup per evaluation.
let lossTable: Uint32Array | null = null

/** The squarer's result for a 17-bit offset xl: xl² less the low partial products it drops. */
export function mufuSquare(xl: number): number {
  if (lossTable === null) {
    lossTable = new Uint32Array(OFFSET_MASK + 1)
    for (let v = 0; v <= OFFSET_MASK; v++) lossTable[v] = squarerLoss(v)
  }
  return xl * xl - lossTable[xl]!
}

/** Positive x truncated (rounded toward zero) to float32. */
function truncf(x: number): number {
  const r = Math.fround(x)
  return r > x ? floatFromBits(bitsFromFloat(r) - 1) : r
}

const SPLIT = 2 ** 19

/**
 * The unit's magnitude for a 23-bit fraction r of a quadrant: sin(π/2 · r / 2^23), approximately,
 * as the float32 it produces. table holds [c0, c1, c2] for each of the 64 intervals.
 */
export function mufuQuadratic(table: Uint32Array, reduced: number): number {
  const k = 3 * ((reduced >>> OFFSET_BITS) & 63)
  const xl = reduced & OFFSET_MASK
  // In units of 2^-56 the sum is S = c0·2^31 + c1·xl·2^19 − c2·sq(xl), up to 2^57: more than a
  // double holds exactly, so it is kept as S = hi·2^19 + lo with 0 ≤ lo < 2^19.
  const a = table[k]! * 4096 + table[k + 1]! * xl // the first two terms / 2^19, < 2^38
  const b = table[k + 2]! * mufuSquare(xl) // < 2^45, exact
  const bHi = Math.floor(b / SPLIT)
  const bLo = b - bHi * SPLIT
  const hi = a - bHi - (bLo > 0 ? 1 : 0)
  const lo = bLo > 0 ? SPLIT - bLo : 0
  if (hi < 0 || (hi === 0 && lo === 0)) return 0
  // With hi ≥ 2^23 the sum has at least 43 significant bits, so truncation to 24 needs hi alone.
  if (hi >= 2 ** 23) return truncf(hi) * 2 ** -37
  return truncf(hi * SPLIT + lo) * 2 ** -56 // < 2^42: exact
}

const INV_2PI = floatFromBits(0x3e22f983)

/** float32 product rounded toward zero. */
function mulRz(a: number, b: number): number {
  const p = a * b // exact for float32 inputs
  const r = Math.fround(p)
  if (Math.abs(r) <= Math.abs(p)) return r
  return floatFromBits(bitsFromFloat(r) - 1) // one ulp towards zero (sign-magnitude bits)
}

/**
 * Steps 1–2 for finite x ≥ 0: out[0] = quadrant (0..3), out[1] = 23-bit fraction of the quadrant.
 */
export function mufuReduce(x: number, out: Int32Array): void {
  const fixed = Math.floor(mulRz(x, INV_2PI) * 2 ** 25) // 4t in fixed point with 23 fraction bits
  out[0] = Math.floor(fixed / 2 ** 23) & 3
  out[1] = fixed % 2 ** 23
}

const red = new Int32Array(2)

/** sin.approx.f32(x) for finite x ≥ 0 under coefficient table `table`. */
export function mufuSin(table: Uint32Array, x: number): number {
  mufuReduce(x, red)
  const q = red[0]!
  const r = q & 1 ? ~red[1]! & FRACTION_MASK : red[1]!
  const v = mufuQuadratic(table, r)
  return q & 2 ? -v : v
}

/** cos.approx.f32(x) for finite x ≥ 0 under coefficient table `table`. */
export function mufuCos(table: Uint32Array, x: number): number {
  mufuReduce(x, red)
  const q = red[0]!
  const r = q & 1 ? red[1]! : ~red[1]! & FRACTION_MASK
  const v = mufuQuadratic(table, r)
  return (q + 1) & 2 ? -v : v
}

/** Both at once with one reduction: out = [sin.approx(x), cos.approx(x)]. */
export function mufuSincos(table: Uint32Array, x: number, out: Float64Array): void {
  mufuReduce(x, red)
  const q = red[0]!
  const r = red[1]!
  const rc = ~r & FRACTION_MASK
  const s = mufuQuadratic(table, q & 1 ? rc : r)
  const c = mufuQuadratic(table, q & 1 ? r : rc)
  out[0] = q & 2 ? -s : s
  out[1] = (q + 1) & 2 ? -c : c
}
