import { DiffuseError } from '../../src/errors.js'
import { checkInteger } from '../../src/validate.js'

/**
 * Complex FFT of any length, in float64, planned once per size and cached.
 *
 * - Lengths whose prime factors are all ≤ 13 run as a self-sorting (Stockham) mixed-radix FFT with
 *   hand-written butterflies for radices 2, 3, 4 and 5 and a small generic DFT for 7, 11 and 13.
 *   Riffusion's n_fft 17640 = 2^3·3^2·5·7^2 takes this path.
 * - Any other length (a large prime factor) runs through Bluestein's chirp-z algorithm on a
 *   power-of-two FFT of length ≥ 2n−1, so every length is O(n log n).
 *
 * Data lives in separate real and imaginary Float64Arrays (split complex): it keeps the inner loops
 * free of stride-2 indexing and lets callers hand in plain float arrays.
 *
 * Sign convention as numpy/torch: forward X[k] = Σ x[t]·e^{−2πi·kt/n}; inverse divides by n.
 */
export interface FftPlan {
  readonly n: number
  /** In-place or out-of-place forward transform (input arrays are not modified when out differs). */
  forward(re: Float64Array, im: Float64Array, outRe?: Float64Array, outIm?: Float64Array): void
  /** Inverse transform including the 1/n scale. */
  inverse(re: Float64Array, im: Float64Array, outRe?: Float64Array, outIm?: Float64Array): void
}

/** Largest prime handled by the direct mixed-radix path; above it Bluestein takes over. */
const MAX_DIRECT_PRIME = 13
/** Guard against absurd sizes (2^27 complex doubles is already 2 GiB of scratch). */
export const MAX_FFT_SIZE = 1 << 26

interface Stage {
  radix: number
  /** Product of the radices of the earlier stages. */
  ns: number
  /** Twiddles e^{−2πi·s·r/(ns·radix)} for s < ns, r in 1..radix−1, laid out [s][r−1]. */
  twRe: Float64Array
  twIm: Float64Array
}

/** Factorises n into the radices used by the Stockham path (4s first, then 2, 3, 5, 7, 11, 13). */
export function factorize(n: number): number[] {
  const out: number[] = []
  let m = n
  while (m % 4 === 0) {
    out.push(4)
    m /= 4
  }
  for (const p of [2, 3, 5, 7, 11, 13]) {
    while (m % p === 0) {
      out.push(p)
      m /= p
    }
  }
  if (m !== 1) out.push(m)
  return out
}

function largestPrimeFactor(n: number): number {
  let m = n
  let largest = 1
  for (let p = 2; p * p <= m; p++) {
    while (m % p === 0) {
      largest = p
      m /= p
    }
  }
  return m > 1 ? Math.max(largest, m) : largest
}

class StockhamPlan {
  readonly n: number
  private readonly stages: Stage[]
  private readonly bufRe: Float64Array
  private readonly bufIm: Float64Array
  /** Roots of unity e^{−2πi·k/r} for the generic butterflies, keyed by radix. */
  private readonly roots = new Map<number, { re: Float64Array; im: Float64Array }>()
  private readonly scratchRe = new Float64Array(16)
  private readonly scratchIm = new Float64Array(16)

  constructor(n: number) {
    this.n = n
    this.bufRe = new Float64Array(n)
    this.bufIm = new Float64Array(n)
    this.stages = []
    let ns = 1
    for (const radix of n === 1 ? [] : factorize(n)) {
      const len = ns * (radix - 1)
      const twRe = new Float64Array(len)
      const twIm = new Float64Array(len)
      for (let s = 0; s < ns; s++) {
        for (let r = 1; r < radix; r++) {
          const a = (-2 * Math.PI * s * r) / (ns * radix)
          twRe[s * (radix - 1) + r - 1] = Math.cos(a)
          twIm[s * (radix - 1) + r - 1] = Math.sin(a)
        }
      }
      this.stages.push({ radix, ns, twRe, twIm })
      if (radix > 5 && !this.roots.has(radix)) {
        const re = new Float64Array(radix)
        const im = new Float64Array(radix)
        for (let k = 0; k < radix; k++) {
          re[k] = Math.cos((-2 * Math.PI * k) / radix)
          im[k] = Math.sin((-2 * Math.PI * k) / radix)
        }
        this.roots.set(radix, { re, im })
      }
      ns *= radix
    }
  }

  /** Forward transform of (re, im) into (outRe, outIm); they may alias. */
  run(re: Float64Array, im: Float64Array, outRe: Float64Array, outIm: Float64Array): void {
    const n = this.n
    if (this.stages.length === 0) {
      outRe[0] = re[0]!
      outIm[0] = im[0]!
      return
    }
    // Ping-pong between the caller's output and our buffer; choose the start so the last stage
    // writes into the output. The first read comes from the input (which may alias the output).
    const count = this.stages.length
    let srcRe = re
    let srcIm = im
    for (let i = 0; i < count; i++) {
      const intoOut = (count - 1 - i) % 2 === 0
      let dstRe = intoOut ? outRe : this.bufRe
      let dstIm = intoOut ? outIm : this.bufIm
      if (dstRe === srcRe) {
        // Only possible on the first stage when input aliases output with an odd stage count:
        // copy the input aside first.
        this.bufRe.set(srcRe)
        this.bufIm.set(srcIm)
        srcRe = this.bufRe
        srcIm = this.bufIm
        dstRe = outRe
        dstIm = outIm
      }
      this.stage(this.stages[i]!, n, srcRe, srcIm, dstRe, dstIm)
      srcRe = dstRe
      srcIm = dstIm
    }
  }

  private stage(st: Stage, n: number, xr: Float64Array, xi: Float64Array, yr: Float64Array, yi: Float64Array): void {
    const { radix: R, ns, twRe, twIm } = st
    const stride = n / R // distance between the R inputs of one butterfly
    const blocks = stride / ns
    if (R === 2) {
      for (let b = 0; b < blocks; b++) {
        for (let s = 0; s < ns; s++) {
          const j = b * ns + s
          const o = b * ns * 2 + s
          const wr = twRe[s]!
          const wi = twIm[s]!
          const ar = xr[j]!
          const ai = xi[j]!
          const br0 = xr[j + stride]!
          const bi0 = xi[j + stride]!
          const br = br0 * wr - bi0 * wi
          const bi = br0 * wi + bi0 * wr
          yr[o] = ar + br
          yi[o] = ai + bi
          yr[o + ns] = ar - br
          yi[o + ns] = ai - bi
        }
      }
      return
    }
    if (R === 4) {
      for (let b = 0; b < blocks; b++) {
        for (let s = 0; s < ns; s++) {
          const j = b * ns + s
          const o = b * ns * 4 + s
          const t = s * 3
          const a0r = xr[j]!
          const a0i = xi[j]!
          let pr = xr[j + stride]!
          let pi = xi[j + stride]!
          const a1r = pr * twRe[t]! - pi * twIm[t]!
          const a1i = pr * twIm[t]! + pi * twRe[t]!
          pr = xr[j + 2 * stride]!
          pi = xi[j + 2 * stride]!
          const a2r = pr * twRe[t + 1]! - pi * twIm[t + 1]!
          const a2i = pr * twIm[t + 1]! + pi * twRe[t + 1]!
          pr = xr[j + 3 * stride]!
          pi = xi[j + 3 * stride]!
          const a3r = pr * twRe[t + 2]! - pi * twIm[t + 2]!
          const a3i = pr * twIm[t + 2]! + pi * twRe[t + 2]!
          const s02r = a0r + a2r
          const s02i = a0i + a2i
          const d02r = a0r - a2r
          const d02i = a0i - a2i
          const s13r = a1r + a3r
          const s13i = a1i + a3i
          const d13r = a1r - a3r
          const d13i = a1i - a3i
          yr[o] = s02r + s13r
          yi[o] = s02i + s13i
          // −i·d13
          yr[o + ns] = d02r + d13i
          yi[o + ns] = d02i - d13r
          yr[o + 2 * ns] = s02r - s13r
          yi[o + 2 * ns] = s02i - s13i
          yr[o + 3 * ns] = d02r - d13i
          yi[o + 3 * ns] = d02i + d13r
        }
      }
      return
    }
    if (R === 3) {
      const c = -0.5
      const sn = -Math.sqrt(3) / 2 // sin(−2π/3)
      for (let b = 0; b < blocks; b++) {
        for (let s = 0; s < ns; s++) {
          const j = b * ns + s
          const o = b * ns * 3 + s
          const t = s * 2
          const a0r = xr[j]!
          const a0i = xi[j]!
          let pr = xr[j + stride]!
          let pi = xi[j + stride]!
          const a1r = pr * twRe[t]! - pi * twIm[t]!
          const a1i = pr * twIm[t]! + pi * twRe[t]!
          pr = xr[j + 2 * stride]!
          pi = xi[j + 2 * stride]!
          const a2r = pr * twRe[t + 1]! - pi * twIm[t + 1]!
          const a2i = pr * twIm[t + 1]! + pi * twRe[t + 1]!
          const sr = a1r + a2r
          const si = a1i + a2i
          const dr = a1r - a2r
          const di = a1i - a2i
          const mr = a0r + c * sr
          const mi = a0i + c * si
          yr[o] = a0r + sr
          yi[o] = a0i + si
          // ± i·sin·d
          yr[o + ns] = mr - sn * di
          yi[o + ns] = mi + sn * dr
          yr[o + 2 * ns] = mr + sn * di
          yi[o + 2 * ns] = mi - sn * dr
        }
      }
      return
    }
    if (R === 5) {
      const c1 = Math.cos((2 * Math.PI) / 5)
      const c2 = Math.cos((4 * Math.PI) / 5)
      const s1 = -Math.sin((2 * Math.PI) / 5)
      const s2 = -Math.sin((4 * Math.PI) / 5)
      for (let b = 0; b < blocks; b++) {
        for (let s = 0; s < ns; s++) {
          const j = b * ns + s
          const o = b * ns * 5 + s
          const t = s * 4
          const a0r = xr[j]!
          const a0i = xi[j]!
          let pr = xr[j + stride]!
          let pi = xi[j + stride]!
          const a1r = pr * twRe[t]! - pi * twIm[t]!
          const a1i = pr * twIm[t]! + pi * twRe[t]!
          pr = xr[j + 2 * stride]!
          pi = xi[j + 2 * stride]!
          const a2r = pr * twRe[t + 1]! - pi * twIm[t + 1]!
          const a2i = pr * twIm[t + 1]! + pi * twRe[t + 1]!
          pr = xr[j + 3 * stride]!
          pi = xi[j + 3 * stride]!
          const a3r = pr * twRe[t + 2]! - pi * twIm[t + 2]!
          const a3i = pr * twIm[t + 2]! + pi * twRe[t + 2]!
          pr = xr[j + 4 * stride]!
          pi = xi[j + 4 * stride]!
          const a4r = pr * twRe[t + 3]! - pi * twIm[t + 3]!
          const a4i = pr * twIm[t + 3]! + pi * twRe[t + 3]!
          const s14r = a1r + a4r
          const s14i = a1i + a4i
          const d14r = a1r - a4r
          const d14i = a1i - a4i
          const s23r = a2r + a3r
          const s23i = a2i + a3i
          const d23r = a2r - a3r
          const d23i = a2i - a3i
          const m1r = a0r + c1 * s14r + c2 * s23r
          const m1i = a0i + c1 * s14i + c2 * s23i
          const m2r = a0r + c2 * s14r + c1 * s23r
          const m2i = a0i + c2 * s14i + c1 * s23i
          // i·(s1·d14 + s2·d23) and i·(s2·d14 − s1·d23)
          const n1r = -(s1 * d14i + s2 * d23i)
          const n1i = s1 * d14r + s2 * d23r
          const n2r = -(s2 * d14i - s1 * d23i)
          const n2i = s2 * d14r - s1 * d23r
          yr[o] = a0r + s14r + s23r
          yi[o] = a0i + s14i + s23i
          yr[o + ns] = m1r + n1r
          yi[o + ns] = m1i + n1i
          yr[o + 4 * ns] = m1r - n1r
          yi[o + 4 * ns] = m1i - n1i
          yr[o + 2 * ns] = m2r + n2r
          yi[o + 2 * ns] = m2i + n2i
          yr[o + 3 * ns] = m2r - n2r
          yi[o + 3 * ns] = m2i - n2i
        }
      }
      return
    }
    // Odd prime radix (7, 11, 13): pair inputs j and R−j so each output pair k, R−k shares the
    // cosine and sine sums: y_k = a0 + Σ_j cos(θjk)·(a_j + a_{R−j}) − i·sin(θjk)·(a_j − a_{R−j}).
    const roots = this.roots.get(R)!
    const h = (R - 1) / 2
    const vr = this.scratchRe
    const vi = this.scratchIm
    for (let b = 0; b < blocks; b++) {
      for (let s = 0; s < ns; s++) {
        const j = b * ns + s
        const o = b * ns * R + s
        const a0r = xr[j]!
        const a0i = xi[j]!
        vr[0] = a0r
        vi[0] = a0i
        for (let r = 1; r < R; r++) {
          const t = s * (R - 1) + r - 1
          const pr = xr[j + r * stride]!
          const pi = xi[j + r * stride]!
          vr[r] = pr * twRe[t]! - pi * twIm[t]!
          vi[r] = pr * twIm[t]! + pi * twRe[t]!
        }
        let sumR = a0r
        let sumI = a0i
        for (let q = 1; q <= h; q++) {
          sumR += vr[q]! + vr[R - q]!
          sumI += vi[q]! + vi[R - q]!
        }
        yr[o] = sumR
        yi[o] = sumI
        for (let k = 1; k <= h; k++) {
          let mr = a0r
          let mi = a0i
          let nr = 0
          let ni = 0
          let idx = 0
          for (let q = 1; q <= h; q++) {
            idx += k
            if (idx >= R) idx -= R
            const c = roots.re[idx]!
            const sn = roots.im[idx]! // −sin(2π·qk/R)
            mr += c * (vr[q]! + vr[R - q]!)
            mi += c * (vi[q]! + vi[R - q]!)
            nr += sn * (vi[q]! - vi[R - q]!)
            ni += sn * (vr[q]! - vr[R - q]!)
          }
          // y_k = m + i·sn·d  (sn already carries the minus sign of the forward transform)
          yr[o + k * ns] = mr - nr
          yi[o + k * ns] = mi + ni
          yr[o + (R - k) * ns] = mr + nr
          yi[o + (R - k) * ns] = mi - ni
        }
      }
    }
  }
}

/** Bluestein: x → chirp-multiply → convolve with the conjugate chirp on a power-of-two FFT → chirp. */
class BluesteinPlan {
  readonly n: number
  private readonly m: number
  private readonly inner: StockhamPlan
  private readonly chirpRe: Float64Array
  private readonly chirpIm: Float64Array
  /** FFT of the conjugate chirp filter b[k] = e^{+iπk²/n}, wrapped around for negative k. */
  private readonly filterRe: Float64Array
  private readonly filterIm: Float64Array
  private readonly aRe: Float64Array
  private readonly aIm: Float64Array

  constructor(n: number) {
    this.n = n
    let m = 1
    while (m < 2 * n - 1) m *= 2
    this.m = m
    this.inner = new StockhamPlan(m)
    this.chirpRe = new Float64Array(n)
    this.chirpIm = new Float64Array(n)
    // k² mod 2n keeps the angle argument small, so the chirp stays accurate for large n.
    const twoN = 2 * n
    for (let k = 0; k < n; k++) {
      const k2 = Number((BigInt(k) * BigInt(k)) % BigInt(twoN))
      const a = (-Math.PI * k2) / n
      this.chirpRe[k] = Math.cos(a)
      this.chirpIm[k] = Math.sin(a)
    }
    const fr = new Float64Array(m)
    const fi = new Float64Array(m)
    for (let k = 0; k < n; k++) {
      fr[k] = this.chirpRe[k]!
      fi[k] = -this.chirpIm[k]!
      if (k > 0) {
        fr[m - k] = this.chirpRe[k]!
        fi[m - k] = -this.chirpIm[k]!
      }
    }
    this.inner.run(fr, fi, fr, fi)
    this.filterRe = fr
    this.filterIm = fi
    this.aRe = new Float64Array(m)
    this.aIm = new Float64Array(m)
  }

  run(re: Float64Array, im: Float64Array, outRe: Float64Array, outIm: Float64Array): void {
    const { n, m, aRe, aIm, chirpRe, chirpIm } = this
    for (let k = 0; k < n; k++) {
      const xr = re[k]!
      const xi = im[k]!
      aRe[k] = xr * chirpRe[k]! - xi * chirpIm[k]!
      aIm[k] = xr * chirpIm[k]! + xi * chirpRe[k]!
    }
    aRe.fill(0, n)
    aIm.fill(0, n)
    this.inner.run(aRe, aIm, aRe, aIm)
    // Pointwise product, then an inverse FFT by the conjugation trick (conj → forward → conj).
    const fr = this.filterRe
    const fi = this.filterIm
    for (let k = 0; k < m; k++) {
      const xr = aRe[k]!
      const xi = aIm[k]!
      aRe[k] = xr * fr[k]! - xi * fi[k]!
      aIm[k] = -(xr * fi[k]! + xi * fr[k]!)
    }
    this.inner.run(aRe, aIm, aRe, aIm)
    const scale = 1 / m
    for (let k = 0; k < n; k++) {
      const cr = aRe[k]! * scale
      const ci = -aIm[k]! * scale
      outRe[k] = cr * chirpRe[k]! - ci * chirpIm[k]!
      outIm[k] = cr * chirpIm[k]! + ci * chirpRe[k]!
    }
  }
}

class Plan implements FftPlan {
  readonly n: number
  private readonly impl: StockhamPlan | BluesteinPlan

  constructor(n: number) {
    this.n = n
    this.impl = largestPrimeFactor(n) > MAX_DIRECT_PRIME ? new BluesteinPlan(n) : new StockhamPlan(n)
  }

  forward(re: Float64Array, im: Float64Array, outRe: Float64Array = re, outIm: Float64Array = im): void {
    this.check(re, im, outRe, outIm)
    this.impl.run(re, im, outRe, outIm)
  }

  inverse(re: Float64Array, im: Float64Array, outRe: Float64Array = re, outIm: Float64Array = im): void {
    this.check(re, im, outRe, outIm)
    // ifft(x) = swap(fft(swap(x))) / n: swapping real and imaginary parts conjugates up to a factor i.
    this.impl.run(im, re, outIm, outRe)
    const s = 1 / this.n
    for (let k = 0; k < this.n; k++) {
      outRe[k]! *= s
      outIm[k]! *= s
    }
  }

  private check(re: Float64Array, im: Float64Array, outRe: Float64Array, outIm: Float64Array): void {
    const n = this.n
    if (re.length < n || im.length < n || outRe.length < n || outIm.length < n) {
      throw new DiffuseError('INVALID_ARGUMENT', `FFT of size ${n} needs arrays of at least ${n} values`, {
        details: { n, lengths: [re.length, im.length, outRe.length, outIm.length] },
      })
    }
  }
}

const planCache = new Map<number, Plan>()
const MAX_CACHED_PLANS = 32

/**
 * A (cached) FFT plan for length n. Plans own scratch buffers: use one plan from one thread of
 * control at a time (JavaScript is single-threaded, so that holds unless a caller interleaves
 * its own generators mid-transform, which these synchronous methods cannot).
 */
export function fftPlan(n: number): FftPlan {
  checkInteger('n', n, 1, MAX_FFT_SIZE)
  let plan = planCache.get(n)
  if (!plan) {
    plan = new Plan(n)
    if (planCache.size >= MAX_CACHED_PLANS) planCache.delete(planCache.keys().next().value!)
    planCache.set(n, plan)
  }
  return plan
}

/** Forward complex FFT (new arrays). */
export function fft(re: ArrayLike<number>, im?: ArrayLike<number>): { re: Float64Array; im: Float64Array } {
  const n = re.length
  const plan = fftPlan(n)
  const outRe = Float64Array.from(re)
  const outIm = im ? Float64Array.from(im) : new Float64Array(n)
  if (outIm.length !== n) throw new DiffuseError('INVALID_ARGUMENT', `fft: re has length ${n} but im has length ${outIm.length}`)
  plan.forward(outRe, outIm)
  return { re: outRe, im: outIm }
}

/** Inverse complex FFT with the 1/n scale (new arrays). */
export function ifft(re: ArrayLike<number>, im: ArrayLike<number>): { re: Float64Array; im: Float64Array } {
  const n = re.length
  if (im.length !== n) throw new DiffuseError('INVALID_ARGUMENT', `ifft: re has length ${n} but im has length ${im.length}`)
  const plan = fftPlan(n)
  const outRe = Float64Array.from(re)
  const outIm = Float64Array.from(im)
  plan.inverse(outRe, outIm)
  return { re: outRe, im: outIm }
}

/** FFT of a real signal: the n/2+1 non-negative-frequency bins (numpy.fft.rfft). */
export function rfft(x: ArrayLike<number>): { re: Float64Array; im: Float64Array } {
  const n = x.length
  const full = fft(x)
  const bins = Math.floor(n / 2) + 1
  return { re: full.re.slice(0, bins), im: full.im.slice(0, bins) }
}

/**
 * Inverse of rfft for an output of length n (numpy.fft.irfft): the missing bins are the conjugate
 * mirror; the imaginary parts of bin 0 (and of bin n/2 for even n) are ignored, as numpy does.
 */
export function irfft(re: ArrayLike<number>, im: ArrayLike<number>, n: number): Float64Array {
  checkInteger('n', n, 1, MAX_FFT_SIZE)
  const bins = Math.floor(n / 2) + 1
  if (re.length < bins || im.length < bins) {
    throw new DiffuseError('INVALID_ARGUMENT', `irfft of length ${n} needs ${bins} bins but received ${Math.min(re.length, im.length)}`)
  }
  const fr = new Float64Array(n)
  const fi = new Float64Array(n)
  for (let k = 0; k < bins; k++) {
    fr[k] = re[k]!
    fi[k] = im[k]!
  }
  fi[0] = 0
  if (n % 2 === 0) fi[n / 2] = 0
  for (let k = bins; k < n; k++) {
    fr[k] = fr[n - k]!
    fi[k] = -fi[n - k]!
  }
  fftPlan(n).inverse(fr, fi)
  return fr
}
