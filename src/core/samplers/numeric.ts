/**
 * The handful of numpy / torch operations that diffusers' `set_timesteps` relies on, reproduced with
 * their exact rounding rules (numpy rounds half to even, `linspace` forces its last value, `interp`
 * evaluates slope·(x − xp) + fp). Timestep tables must match diffusers value for value, so these are
 * not the "obvious" formulas but the ones numpy actually evaluates.
 */

/** numpy's round(): half to even. */
export function roundHalfEven(v: number): number {
  if (!Number.isFinite(v)) return v
  const f = Math.floor(v)
  const d = v - f
  if (d > 0.5) return f + 1
  if (d < 0.5) return f
  return f % 2 === 0 ? f : f + 1
}

/** numpy.linspace(start, stop, num, endpoint) in float64 (the values numpy computes before any dtype cast). */
export function npLinspace(start: number, stop: number, num: number, endpoint = true): number[] {
  const out: number[] = []
  if (num <= 0) return out
  const div = endpoint ? num - 1 : num
  const delta = stop - start
  if (div <= 0) return [start]
  const step = delta / div
  for (let i = 0; i < num; i++) out.push(step === 0 ? (i / div) * delta + start : i * step + start)
  if (endpoint && num > 1) out[num - 1] = stop
  return out
}

/** numpy.arange(start, stop, step) for a float or integer step. */
export function npArange(start: number, stop: number, step: number): number[] {
  const n = Math.max(0, Math.ceil((stop - start) / step))
  const out: number[] = []
  for (let i = 0; i < n; i++) out.push(start + i * step)
  return out
}

/** numpy.interp(x, xp = 0..fp.length-1, fp): piecewise linear, clamped at the ends. */
export function npInterpIndex(x: number, fp: ArrayLike<number>): number {
  const n = fp.length
  if (x <= 0) return fp[0]!
  if (x >= n - 1) return fp[n - 1]!
  const j = Math.floor(x)
  if (x === j) return fp[j]!
  const slope = (fp[j + 1]! - fp[j]!) / 1
  return slope * (x - j) + fp[j]!
}

/**
 * torch.linspace(start, end, steps, dtype=float32) on the CPU: the float32 step, values from the start
 * for the first half and from the end for the second half.
 */
export function torchLinspaceF32(start: number, end: number, steps: number): Float64Array {
  const f = Math.fround
  const out = new Float64Array(steps)
  if (steps === 1) {
    out[0] = f(start)
    return out
  }
  const s = f(start)
  const e = f(end)
  const step = f(f(e - s) / (steps - 1))
  const halfway = Math.floor(steps / 2)
  for (let i = 0; i < steps; i++) {
    out[i] = i < halfway ? f(s + f(step * i)) : f(e - f(step * (steps - i - 1)))
  }
  return out
}

/**
 * diffusers' `_sigma_to_t`: the (fractional) training timestep whose log-sigma matches `sigma`,
 * by linear interpolation in log-sigma between neighbouring training timesteps.
 * `logSigmas` are the training schedule's log sigmas (increasing with t).
 */
export function sigmaToT(sigma: number, logSigmas: ArrayLike<number>): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10))
  const n = logSigmas.length
  // numpy: cumsum(dists >= 0).argmax() = the last index whose log sigma is <= log_sigma (0 when none)
  let low = 0
  for (let i = 0; i < n; i++) if (logSigma - logSigmas[i]! >= 0) low = i
  if (low > n - 2) low = n - 2
  const high = low + 1
  const lo = logSigmas[low]!
  const hi = logSigmas[high]!
  let w = (lo - logSigma) / (lo - hi)
  if (w < 0) w = 0
  else if (w > 1) w = 1
  return (1 - w) * low + w * high
}

/** Karras et al. (2022) eq. 5: n sigmas from sigmaMax down to sigmaMin, evenly spaced in sigma^(1/rho). */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, n: number, rho = 7): number[] {
  const ramp = npLinspace(0, 1, n)
  const minInv = sigmaMin ** (1 / rho)
  const maxInv = sigmaMax ** (1 / rho)
  return ramp.map((r) => (maxInv + r * (minInv - maxInv)) ** rho)
}

/** n sigmas from sigmaMax down to sigmaMin, evenly spaced in log sigma. */
export function exponentialSigmas(sigmaMin: number, sigmaMax: number, n: number): number[] {
  return npLinspace(Math.log(sigmaMax), Math.log(sigmaMin), n).map((v) => Math.exp(v))
}

/**
 * torch.quantile(values, q) with linear interpolation (the default), on a copy.
 */
export function quantileLinear(values: ArrayLike<number>, q: number): number {
  const sorted = Float64Array.from(values as ArrayLike<number>).sort()
  const n = sorted.length
  if (n === 0) return NaN
  const pos = q * (n - 1)
  const lo = Math.floor(pos)
  const hi = Math.min(lo + 1, n - 1)
  const w = pos - lo
  return sorted[lo]! + w * (sorted[hi]! - sorted[lo]!)
}

/** Gauss–Legendre 8-point integral of f over [a, b]: exact for polynomials up to degree 15. */
export function integratePolynomial(f: (x: number) => number, a: number, b: number): number {
  const nodes = [0.1834346424956498, 0.525532409916329, 0.7966664774136267, 0.9602898564975363]
  const weights = [0.362683783378362, 0.3137066458778873, 0.2223810344533745, 0.1012285362903763]
  const mid = (a + b) / 2
  const half = (b - a) / 2
  let s = 0
  for (let i = 0; i < 4; i++) {
    s += weights[i]! * (f(mid + half * nodes[i]!) + f(mid - half * nodes[i]!))
  }
  return s * half
}

/** Solves the small dense system A·x = b (Gaussian elimination with partial pivoting). */
export function solveLinear(A: number[][], b: number[]): number[] {
  const n = b.length
  const M = A.map((row, i) => [...row.slice(0, n), b[i]!])
  for (let c = 0; c < n; c++) {
    let p = c
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r]![c]!) > Math.abs(M[p]![c]!)) p = r
    if (p !== c) [M[p], M[c]] = [M[c]!, M[p]!]
    for (let r = c + 1; r < n; r++) {
      const k = M[r]![c]! / M[c]![c]!
      for (let j = c; j <= n; j++) M[r]![j] = M[r]![j]! - k * M[c]![j]!
    }
  }
  const x = new Array<number>(n).fill(0)
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r]![n]!
    for (let j = r + 1; j < n; j++) s -= M[r]![j]! * x[j]!
    x[r] = s / M[r]![r]!
  }
  return x
}
