/**
 * Float64 re-implementations of the published sampler formulas, with diffusers' semantics, written for
 * the tests from the papers and the diffusers scheduler docs/sources, independently of src/core (nothing
 * here imports from src): each sampler is one plain loop over a model function, with every scalar in
 * double precision, no float32 rounding, no fused kernels and no shared helpers with the SDK.
 *
 * Conventions: `x` is the sampler's state (VP form x = √ᾱ·x0 + √(1−ᾱ)·ε for DDPM/DDIM/DPM/UniPC, VE
 * form x = x0 + σ·ε for the k-diffusion family), `model(xin, t)` returns the raw network output for the
 * input the sampler hands it, `noise.next(n)` returns the next n standard normal values.
 */

export type Model = (x: Float64Array, t: number) => Float64Array
export interface Noise {
  next(n: number): Float64Array
}
export type Cfg = Readonly<Record<string, unknown>>

function numberOr(c: Cfg, key: string, def: number): number {
  const v = c[key]
  return typeof v === 'number' ? v : def
}
function stringOr(c: Cfg, key: string, def: string): string {
  const v = c[key]
  return typeof v === 'string' ? v : def
}
function on(c: Cfg, key: string, def = false): boolean {
  const v = c[key]
  return typeof v === 'boolean' ? v : def
}

// ---------------------------------------------------------------------------------------------------
// Training schedules (Ho et al. 2020; Nichol & Dhariwal 2021; Lin et al. 2023 Algorithm 1)

export function refBetas(c: Cfg): Float64Array {
  const N = numberOr(c, 'num_train_timesteps', 1000)
  const b0 = numberOr(c, 'beta_start', 0.0001)
  const b1 = numberOr(c, 'beta_end', 0.02)
  const kind = stringOr(c, 'beta_schedule', 'linear')
  const betas = new Float64Array(N)
  for (let i = 0; i < N; i++) {
    const f = N === 1 ? 0 : i / (N - 1)
    if (kind === 'linear') betas[i] = b0 + (b1 - b0) * f
    else if (kind === 'scaled_linear') betas[i] = (Math.sqrt(b0) + (Math.sqrt(b1) - Math.sqrt(b0)) * f) ** 2
    else if (kind === 'squaredcos_cap_v2') {
      const abar = (s: number) => Math.cos(((s + 0.008) / 1.008) * (Math.PI / 2)) ** 2
      betas[i] = Math.min(1 - abar((i + 1) / N) / abar(i / N), 0.999)
    } else throw new Error(`reference: beta_schedule ${kind}`)
  }
  if (on(c, 'rescale_betas_zero_snr')) {
    // shift √ᾱ so that its last value is 0 and scale so that its first value is unchanged
    const root = new Float64Array(N)
    let prod = 1
    for (let i = 0; i < N; i++) {
      prod *= 1 - betas[i]!
      root[i] = Math.sqrt(prod)
    }
    const first = root[0]!
    const last = root[N - 1]!
    const bar = root.map((r) => ((r - last) * first / (first - last)) ** 2)
    for (let i = 0; i < N; i++) betas[i] = 1 - (i === 0 ? bar[0]! : bar[i]! / bar[i - 1]!)
  }
  return betas
}

export function refAlphaBar(c: Cfg): Float64Array {
  const betas = refBetas(c)
  const out = new Float64Array(betas.length)
  let prod = 1
  for (let i = 0; i < betas.length; i++) {
    prod *= 1 - betas[i]!
    out[i] = prod
  }
  return out
}

/** σ_t = √((1−ᾱ_t)/ᾱ_t), increasing in t. */
export function refTrainSigmas(abar: ArrayLike<number>): Float64Array {
  return Float64Array.from(abar as ArrayLike<number>, (a) => Math.sqrt((1 - a) / a))
}

function roundEven(v: number): number {
  const r = Math.round(v)
  // Math.round rounds halves up; numpy rounds them to even
  return Math.abs(v - Math.trunc(v)) === 0.5 ? 2 * Math.round(v / 2) : r
}

function linspace(a: number, b: number, n: number): number[] {
  if (n === 1) return [a]
  return Array.from({ length: n }, (_, i) => (i === n - 1 ? b : a + ((b - a) * i) / (n - 1)))
}

/** Piecewise-linear interpolation of table[k] at a fractional index. */
function lerpTable(table: ArrayLike<number>, t: number): number {
  if (t <= 0) return table[0]!
  if (t >= table.length - 1) return table[table.length - 1]!
  const k = Math.floor(t)
  return table[k]! + (t - k) * (table[k + 1]! - table[k]!)
}

/** The fractional training timestep whose log σ matches (diffusers' _sigma_to_t). */
export function refSigmaToT(sigma: number, trainSigmas: ArrayLike<number>): number {
  const ls = Math.log(Math.max(sigma, 1e-10))
  const N = trainSigmas.length
  let lo = 0
  for (let k = 0; k < N; k++) if (Math.log(trainSigmas[k]!) <= ls) lo = k
  lo = Math.min(lo, N - 2)
  const a = Math.log(trainSigmas[lo]!)
  const b = Math.log(trainSigmas[lo + 1]!)
  const w = Math.min(Math.max((a - ls) / (a - b), 0), 1)
  return lo + w
}

/** Karras et al. 2022 eq. 5 with ρ. */
export function refKarras(sMin: number, sMax: number, n: number, rho = 7): number[] {
  const a = sMax ** (1 / rho)
  const b = sMin ** (1 / rho)
  return Array.from({ length: n }, (_, i) => (a + (n === 1 ? 0 : i / (n - 1)) * (b - a)) ** rho)
}

function exponentialLadder(sMin: number, sMax: number, n: number): number[] {
  return linspace(Math.log(sMax), Math.log(sMin), n).map(Math.exp)
}

/** Descending integer timesteps (DDPM, DDIM): Lin et al. 2023 Table 2. */
export function refIntegerTimesteps(spacing: string, N: number, n: number, offset: number): number[] {
  if (spacing === 'linspace') return linspace(0, N - 1, n).map(roundEven).reverse()
  if (spacing === 'leading') return Array.from({ length: n }, (_, i) => i * Math.floor(N / n) + offset).reverse()
  return trailing(N, n)
}

/** round(arange(N, 0, −N/n)) − 1: numpy's arange has ceil(N / (N/n)) values, start − i·step. */
function trailing(N: number, n: number): number[] {
  const step = N / n
  return Array.from({ length: Math.ceil(N / step) }, (_, i) => roundEven(N - i * step) - 1)
}

/** The k-diffusion family's timesteps: as above but linspace stays fractional. */
function floatTimesteps(spacing: string, N: number, n: number, offset: number): number[] {
  if (spacing === 'linspace') return linspace(0, N - 1, n).reverse()
  return refIntegerTimesteps(spacing, N, n, offset)
}

/** The multistep solvers' timesteps: n + 1 points laid out, the t = 0 end dropped. */
/** `last` is N unless λ-clipping (lambda_min_clipped) cut the noisiest training timesteps off. */
function multistepTimesteps(spacing: string, N: number, n: number, offset: number, last = N): number[] {
  if (spacing === 'linspace') return linspace(0, last - 1, n + 1).map(roundEven).reverse().slice(0, n)
  if (spacing === 'leading') {
    const r = Math.floor(last / (n + 1))
    return Array.from({ length: n + 1 }, (_, i) => i * r).reverse().slice(0, n).map((t) => t + offset)
  }
  const step = N / n
  return Array.from({ length: Math.ceil(last / step) }, (_, i) => roundEven(last - i * step) - 1)
}

// ---------------------------------------------------------------------------------------------------
// Model-output conversions

type Pred = 'epsilon' | 'v_prediction' | 'sample'

/** x0 of a VP state x with √ᾱ = a, √(1−ᾱ) = b. */
function vpX0(pred: Pred, out: Float64Array, x: Float64Array, a: number, b: number): Float64Array {
  return out.map((o, i) => (pred === 'epsilon' ? (x[i]! - b * o) / a : pred === 'v_prediction' ? a * x[i]! - b * o : o))
}
/** ε of a VP state x. */
function vpEps(pred: Pred, out: Float64Array, x: Float64Array, a: number, b: number): Float64Array {
  return out.map((o, i) => (pred === 'epsilon' ? o : pred === 'v_prediction' ? a * o + b * x[i]! : (x[i]! - a * o) / b))
}

/** The denoised estimate D(x; σ) of a VE state x, for a model that saw x/√(σ²+1). */
function veX0(pred: Pred, out: Float64Array, x: Float64Array, sigma: number): Float64Array {
  const k = Math.sqrt(sigma * sigma + 1)
  return out.map((o, i) => (pred === 'epsilon' ? x[i]! - sigma * o : pred === 'v_prediction' ? x[i]! / (k * k) - (sigma / k) * o : o))
}

/** Imagen's dynamic thresholding per batch item (Saharia et al. 2022). */
function threshold(x0: Float64Array, batch: number, ratio: number, maxValue: number): Float64Array {
  const out = new Float64Array(x0.length)
  const len = x0.length / batch
  for (let b = 0; b < batch; b++) {
    const abs = Array.from(x0.subarray(b * len, (b + 1) * len), Math.abs).sort((p, q) => p - q)
    const pos = ratio * (len - 1)
    const k = Math.floor(pos)
    const q = abs[k]! + (pos - k) * ((abs[Math.min(k + 1, len - 1)] ?? 0) - abs[k]!)
    const s = Math.min(Math.max(q, 1), maxValue)
    for (let i = b * len; i < (b + 1) * len; i++) out[i] = Math.min(Math.max(x0[i]!, -s), s) / s
  }
  return out
}

function postprocessX0(c: Cfg, x0: Float64Array, batch: number, clipDefault: boolean): Float64Array {
  if (on(c, 'thresholding')) return threshold(x0, batch, numberOr(c, 'dynamic_thresholding_ratio', 0.995), numberOr(c, 'sample_max_value', 1))
  if (on(c, 'clip_sample', clipDefault)) {
    const r = numberOr(c, 'clip_sample_range', 1)
    return x0.map((v) => Math.min(Math.max(v, -r), r))
  }
  return x0
}

export interface RefRun {
  final: Float64Array
  /** the state after every model evaluation */
  samples: Float64Array[]
  /** the timestep handed to the model at every evaluation */
  timesteps: number[]
}

// ---------------------------------------------------------------------------------------------------
// DDPM (Ho et al. 2020, eq. 6–7): the posterior mean plus noise

export function refDDPM(c: Cfg, steps: number, base: Float64Array, model: Model, noise: Noise, batch = 1): RefRun {
  const abar = refAlphaBar(c)
  const N = abar.length
  const ts = refIntegerTimesteps(stringOr(c, 'timestep_spacing', 'leading'), N, steps, numberOr(c, 'steps_offset', 0))
  const pred = stringOr(c, 'prediction_type', 'epsilon') as Pred
  const variance = stringOr(c, 'variance_type', 'fixed_small')
  let x: Float64Array = Float64Array.from(base)
  const run: RefRun = { final: x, samples: [], timesteps: [] }
  ts.forEach((t, i) => {
    const prev = i + 1 < ts.length ? ts[i + 1]! : -1
    const a = abar[t]!
    const ap = prev >= 0 ? abar[prev]! : 1
    const beta = 1 - a / ap
    const out = model(x, t)
    run.timesteps.push(t)
    const x0 = postprocessX0(c, vpX0(pred, out, x, Math.sqrt(a), Math.sqrt(1 - a)), batch, true)
    const cx0 = (Math.sqrt(ap) * beta) / (1 - a)
    const cx = (Math.sqrt(a / ap) * (1 - ap)) / (1 - a)
    const next = x.map((xi, k) => cx0 * x0[k]! + cx * xi)
    if (t > 0) {
      const z = noise.next(x.length)
      const small = Math.max(((1 - ap) / (1 - a)) * beta, 1e-20)
      const std = variance === 'fixed_large' ? Math.sqrt(beta) : Math.sqrt(small)
      for (let k = 0; k < next.length; k++) next[k] = next[k]! + std * z[k]!
    }
    x = next
    run.samples.push(x)
  })
  run.final = x
  return run
}

// ---------------------------------------------------------------------------------------------------
// DDIM (Song et al. 2021, eq. 12)

export function refDDIM(c: Cfg, steps: number, base: Float64Array, model: Model, noise: Noise, batch = 1): RefRun {
  const abar = refAlphaBar(c)
  const N = abar.length
  const ts = refIntegerTimesteps(stringOr(c, 'timestep_spacing', 'leading'), N, steps, numberOr(c, 'steps_offset', 0))
  const pred = stringOr(c, 'prediction_type', 'epsilon') as Pred
  const eta = numberOr(c, 'eta', 0)
  const final = on(c, 'set_alpha_to_one', true) ? 1 : abar[0]!
  let x: Float64Array = Float64Array.from(base)
  const run: RefRun = { final: x, samples: [], timesteps: [] }
  for (const t of ts) {
    const prev = t - Math.floor(N / steps)
    const a = abar[t]!
    const ap = prev >= 0 ? abar[prev]! : final
    const out = model(x, t)
    run.timesteps.push(t)
    const x0 = postprocessX0(c, vpX0(pred, out, x, Math.sqrt(a), Math.sqrt(1 - a)), batch, true)
    let eps = vpEps(pred, out, x, Math.sqrt(a), Math.sqrt(1 - a))
    if (on(c, 'use_clipped_model_output')) eps = x.map((xi, k) => (xi - Math.sqrt(a) * x0[k]!) / Math.sqrt(1 - a))
    const std = eta * Math.sqrt(((1 - ap) / (1 - a)) * (1 - a / ap))
    const dir = Math.sqrt(1 - ap - std * std)
    const next = x0.map((v, k) => Math.sqrt(ap) * v + dir * eps[k]!)
    if (eta > 0) {
      const z = noise.next(x.length)
      for (let k = 0; k < next.length; k++) next[k] = next[k]! + std * z[k]!
    }
    x = next
    run.samples.push(x)
  }
  run.final = x
  return run
}

// ---------------------------------------------------------------------------------------------------
// The k-diffusion family's noise levels, as diffusers' set_timesteps lays them out

interface KPlan {
  /** model timestep for each level */
  ts: number[]
  /** σ_0 > … > σ_{n−1}, then the final level */
  sigmas: number[]
  init: number
}

function kPlan(c: Cfg, steps: number, opts: { roundKarrasT?: boolean } = {}): KPlan {
  const abar = refAlphaBar(c)
  const N = abar.length
  if (on(c, 'rescale_betas_zero_snr')) abar[N - 1] = 2 ** -24
  const train = refTrainSigmas(abar)
  const spacing = stringOr(c, 'timestep_spacing', 'linspace')
  let ts = floatTimesteps(spacing, N, steps, numberOr(c, 'steps_offset', 0))
  let sigmas = ts.map((t) => lerpTable(train, t))
  const sMin = typeof c['sigma_min'] === 'number' ? (c['sigma_min'] as number) : sigmas[sigmas.length - 1]!
  const sMax = typeof c['sigma_max'] === 'number' ? (c['sigma_max'] as number) : sigmas[0]!
  if (on(c, 'use_karras_sigmas')) sigmas = refKarras(sMin, sMax, steps)
  else if (on(c, 'use_exponential_sigmas')) sigmas = exponentialLadder(sMin, sMax, steps)
  if (on(c, 'use_karras_sigmas') || on(c, 'use_exponential_sigmas')) {
    ts = sigmas.map((s) => refSigmaToT(s, train))
    if (opts.roundKarrasT && on(c, 'use_karras_sigmas')) ts = ts.map(roundEven)
  }
  const last = stringOr(c, 'final_sigmas_type', 'zero') === 'sigma_min' ? Math.sqrt((1 - abar[0]!) / abar[0]!) : 0
  const all = [...sigmas, last]
  const max = Math.max(...all)
  return { ts, sigmas: all, init: spacing === 'leading' ? Math.sqrt(max * max + 1) : max }
}

const scaleIn = (x: Float64Array, sigma: number) => x.map((v) => v / Math.sqrt(sigma * sigma + 1))

// ---------------------------------------------------------------------------------------------------
// Euler (Karras et al. 2022, Algorithm 2 with churn; diffusers' EulerDiscreteScheduler)

export function refEuler(c: Cfg, steps: number, base: Float64Array, model: Model, noise: Noise): RefRun {
  const p = kPlan(c, steps)
  const pred = stringOr(c, 'prediction_type', 'epsilon') as Pred
  const churn = numberOr(c, 's_churn', 0)
  const tmin = numberOr(c, 's_tmin', 0)
  const tmax = typeof c['s_tmax'] === 'number' ? (c['s_tmax'] as number) : Infinity
  const sNoise = numberOr(c, 's_noise', 1)
  let x: Float64Array = base.map((v) => v * p.init)
  const run: RefRun = { final: x, samples: [], timesteps: [] }
  for (let i = 0; i < steps; i++) {
    const s = p.sigmas[i]!
    const out = model(scaleIn(x, s), p.ts[i]!)
    run.timesteps.push(p.ts[i]!)
    const gamma = tmin <= s && s <= tmax ? Math.min(churn / steps, Math.SQRT2 - 1) : 0
    const sHat = s * (1 + gamma)
    if (gamma > 0) {
      const z = noise.next(x.length)
      const k = sNoise * Math.sqrt(sHat * sHat - s * s)
      x = x.map((v, j) => v + k * z[j]!)
    }
    // diffusers reads a v output at σ and an ε output at σ̂
    const x0 = pred === 'epsilon' ? x.map((v, j) => v - sHat * out[j]!) : veX0(pred, out, x, s)
    const next = p.sigmas[i + 1]!
    x = x.map((v, j) => v + ((v - x0[j]!) / sHat) * (next - sHat))
    run.samples.push(x)
  }
  run.final = x
  return run
}

// ---------------------------------------------------------------------------------------------------
// Heun's method (Karras et al. 2022, Algorithm 1; diffusers' HeunDiscreteScheduler)

export function refHeun(c: Cfg, steps: number, base: Float64Array, model: Model): RefRun {
  const p = kPlan(c, steps)
  const pred = stringOr(c, 'prediction_type', 'epsilon') as Pred
  const clip = (x0: Float64Array) => postprocessX0(c, x0, 1, false)
  let x: Float64Array = base.map((v) => v * p.init)
  const run: RefRun = { final: x, samples: [], timesteps: [] }
  for (let i = 0; i < steps; i++) {
    const s = p.sigmas[i]!
    const next = p.sigmas[i + 1]!
    run.timesteps.push(p.ts[i]!)
    const x0 = clip(veX0(pred, model(scaleIn(x, s), p.ts[i]!), x, s))
    const d = x.map((v, j) => (v - x0[j]!) / s)
    const euler = x.map((v, j) => v + d[j]! * (next - s))
    run.samples.push(euler)
    if (next === 0) {
      x = euler
      continue
    }
    run.timesteps.push(p.ts[i + 1]!)
    const x0b = clip(veX0(pred, model(scaleIn(euler, next), p.ts[i + 1]!), euler, next))
    x = x.map((v, j) => v + ((d[j]! + (euler[j]! - x0b[j]!) / next) / 2) * (next - s))
    run.samples.push(x)
  }
  run.final = x
  return run
}

// ---------------------------------------------------------------------------------------------------
// Linear multistep (k-diffusion's sample_lms): Adams–Bashforth in σ with exact Lagrange integrals

/** ∫_a^b Π_{k≠j} (τ − nodes[k])/(nodes[j] − nodes[k]) dτ, by expanding the polynomial. */
export function lagrangeIntegral(nodes: readonly number[], j: number, a: number, b: number): number {
  let poly = [1] // coefficients, lowest degree first
  let denom = 1
  nodes.forEach((nk, k) => {
    if (k === j) return
    const next = new Array<number>(poly.length + 1).fill(0)
    poly.forEach((cf, d) => {
      next[d + 1]! += cf
      next[d]! -= nk * cf
    })
    poly = next
    denom *= nodes[j]! - nk
  })
  let integral = 0
  poly.forEach((cf, d) => {
    integral += (cf * (b ** (d + 1) - a ** (d + 1))) / (d + 1)
  })
  return integral / denom
}

export function refLMS(c: Cfg, steps: number, base: Float64Array, model: Model): RefRun {
  const p = kPlan(c, steps)
  const pred = stringOr(c, 'prediction_type', 'epsilon') as Pred
  const maxOrder = numberOr(c, 'lms_order', 4)
  let x: Float64Array = base.map((v) => v * p.init)
  const derivs: Float64Array[] = []
  const run: RefRun = { final: x, samples: [], timesteps: [] }
  for (let i = 0; i < steps; i++) {
    const s = p.sigmas[i]!
    const out = model(scaleIn(x, s), p.ts[i]!)
    run.timesteps.push(p.ts[i]!)
    const x0 = veX0(pred, out, x, s)
    derivs.unshift(x.map((v, j) => (v - x0[j]!) / s)) // newest first
    if (derivs.length > maxOrder) derivs.pop()
    const order = Math.min(i + 1, maxOrder)
    const nodes = Array.from({ length: order }, (_, k) => p.sigmas[i - k]!)
    const next = Float64Array.from(x)
    for (let j = 0; j < order; j++) {
      const w = lagrangeIntegral(nodes, j, s, p.sigmas[i + 1]!)
      const d = derivs[j]!
      for (let k = 0; k < next.length; k++) next[k] = next[k]! + w * d[k]!
    }
    x = next
    run.samples.push(x)
  }
  run.final = x
  return run
}

// ---------------------------------------------------------------------------------------------------
// DPM-Solver-2 in k-diffusion form (k-diffusion's sample_dpm_2): a midpoint step in log σ

export function refKDPM2(c: Cfg, steps: number, base: Float64Array, model: Model): RefRun {
  const p = kPlan(c, steps, { roundKarrasT: true })
  const train = refTrainSigmas(refAlphaBar(c))
  const pred = stringOr(c, 'prediction_type', 'epsilon') as Pred
  let x: Float64Array = base.map((v) => v * p.init)
  const run: RefRun = { final: x, samples: [], timesteps: [] }
  for (let i = 0; i < steps; i++) {
    const s = p.sigmas[i]!
    const sNext = p.sigmas[i + 1]!
    const out = model(scaleIn(x, s), p.ts[i]!)
    run.timesteps.push(p.ts[i]!)
    const x0 = veX0(pred, out, x, s)
    const d = x.map((v, j) => (v - x0[j]!) / s)
    if (sNext === 0) {
      x = x.map((v, j) => v + d[j]! * (sNext - s))
      run.samples.push(x)
      continue
    }
    const sMid = Math.exp((Math.log(s) + Math.log(sNext)) / 2)
    const xMid = x.map((v, j) => v + d[j]! * (sMid - s))
    run.samples.push(xMid)
    const tMid = refSigmaToT(sMid, train)
    const outMid = model(scaleIn(xMid, sMid), tMid)
    run.timesteps.push(tMid)
    const x0Mid = veX0(pred, outMid, xMid, sMid)
    x = x.map((v, j) => v + ((xMid[j]! - x0Mid[j]!) / sMid) * (sNext - s))
    run.samples.push(x)
  }
  run.final = x
  return run
}

// ---------------------------------------------------------------------------------------------------
// The multistep solvers' plan (DPM-Solver++, UniPC): VP states at k-diffusion noise levels

interface MPlan {
  ts: number[]
  sigmas: number[]
}

function multistepPlan(c: Cfg, steps: number, unipc: boolean): MPlan {
  const abar = refAlphaBar(c)
  const N = abar.length
  if (on(c, 'rescale_betas_zero_snr')) abar[N - 1] = 2 ** -24
  const train = refTrainSigmas(abar)
  // λ_t = ln √ᾱ − ln √(1−ᾱ) decreases with t; timesteps whose λ is below lambda_min_clipped are cut off
  const clip = typeof c['lambda_min_clipped'] === 'number' ? (c['lambda_min_clipped'] as number) : -Infinity
  let last = N
  while (last > 0 && Math.log(Math.sqrt(abar[last - 1]!)) - Math.log(Math.sqrt(1 - abar[last - 1]!)) < clip) last--
  let ts = multistepTimesteps(stringOr(c, 'timestep_spacing', 'linspace'), N, steps, numberOr(c, 'steps_offset', 0), unipc ? N : last)
  let sigmas: number[]
  let ladderEnd: number | null = null
  if (on(c, 'use_karras_sigmas')) {
    sigmas = refKarras(train[0]!, train[N - 1]!, steps)
    ts = sigmas.map((s) => refSigmaToT(s, train))
    if (stringOr(c, 'beta_schedule', 'linear') !== 'squaredcos_cap_v2' || unipc) ts = ts.map(roundEven)
    ladderEnd = sigmas[steps - 1]!
  } else if (on(c, 'use_exponential_sigmas')) {
    sigmas = exponentialLadder(train[0]!, train[N - 1]!, steps)
    ts = sigmas.map((s) => refSigmaToT(s, train))
    ladderEnd = sigmas[steps - 1]!
  } else if (!unipc && on(c, 'use_lu_lambdas')) {
    // Lu et al.: uniform in λ = −log σ between the training ends, timesteps rounded as for Karras
    sigmas = exponentialLadder(train[0]!, train[N - 1]!, steps)
    ts = sigmas.map((s) => refSigmaToT(s, train))
    if (stringOr(c, 'beta_schedule', 'linear') !== 'squaredcos_cap_v2') ts = ts.map(roundEven)
  } else {
    sigmas = ts.map((t) => lerpTable(train, t))
  }
  let final = 0
  if (stringOr(c, 'final_sigmas_type', 'zero') === 'sigma_min') {
    // UniPC ends a Karras / exponential ladder at its own last σ; otherwise σ of timestep 0
    final = unipc && ladderEnd !== null ? ladderEnd : Math.sqrt((1 - abar[0]!) / abar[0]!)
  }
  return { ts: ts.map(Math.trunc), sigmas: [...sigmas, final] }
}

/** α_t, σ_t and λ_t = ln(α_t/σ_t) of the VP process at noise level σ. */
function vp(sigma: number): { a: number; s: number; lambda: number } {
  const a = 1 / Math.sqrt(sigma * sigma + 1)
  const s = sigma * a
  return { a, s, lambda: Math.log(a) - Math.log(s) }
}

// ---------------------------------------------------------------------------------------------------
// Multistep DPM-Solver (Lu et al. 2022) and DPM-Solver++ (Lu et al. 2022b), diffusers' update forms

export function refDPMSolver(c: Cfg, steps: number, base: Float64Array, model: Model, noise: Noise, batch = 1): RefRun {
  const plan = multistepPlan(c, steps, false)
  const algo = stringOr(c, 'algorithm_type', 'dpmsolver++')
  const solverType = stringOr(c, 'solver_type', 'midpoint')
  const order = numberOr(c, 'solver_order', 2)
  const pred = stringOr(c, 'prediction_type', 'epsilon') as Pred
  const lof = on(c, 'lower_order_final', true)
  const finalZero = stringOr(c, 'final_sigmas_type', 'zero') === 'zero'
  const dataPred = algo.endsWith('++')
  const n = plan.ts.length
  let x: Float64Array = Float64Array.from(base)
  const hist: Float64Array[] = [] // newest first
  let warm = 0
  const run: RefRun = { final: x, samples: [], timesteps: [] }
  for (let i = 0; i < n; i++) {
    const out = model(x, plan.ts[i]!)
    run.timesteps.push(plan.ts[i]!)
    const cur = vp(plan.sigmas[i]!)
    let m: Float64Array
    if (dataPred) {
      m = vpX0(pred, out, x, cur.a, cur.s)
      if (on(c, 'thresholding')) m = postprocessX0(c, m, batch, false)
    } else {
      m = vpEps(pred, out, x, cur.a, cur.s)
      if (on(c, 'thresholding')) {
        const x0 = postprocessX0(c, x.map((v, k) => (v - cur.s * m[k]!) / cur.a), batch, false)
        m = x.map((v, k) => (v - cur.a * x0[k]!) / cur.s)
      }
    }
    hist.unshift(m)
    if (hist.length > order) hist.pop()
    const lowerFinal = i === n - 1 && (on(c, 'euler_at_final') || (lof && n < 15) || finalZero)
    const lowerSecond = i === n - 2 && lof && n < 15
    let use = 3
    if (order === 1 || warm < 1 || lowerFinal) use = 1
    else if (order === 2 || warm < 2 || lowerSecond) use = 2
    const z = algo.startsWith('sde') ? noise.next(x.length) : null
    const t = vp(plan.sigmas[i + 1]!)
    const h = t.lambda - cur.lambda
    const D0 = hist[0]!
    let D1: Float64Array | null = null
    let D2: Float64Array | null = null
    if (use === 2) {
      const r0 = (cur.lambda - vp(plan.sigmas[i - 1]!).lambda) / h
      D1 = D0.map((v, k) => (v - hist[1]![k]!) / r0)
    } else if (use === 3) {
      const l1 = vp(plan.sigmas[i - 1]!).lambda
      const l2 = vp(plan.sigmas[i - 2]!).lambda
      const r0 = (cur.lambda - l1) / h
      const r1 = (l1 - l2) / h
      const D10 = D0.map((v, k) => (v - hist[1]![k]!) / r0)
      const D11 = hist[1]!.map((v, k) => (v - hist[2]![k]!) / r1)
      D1 = D10.map((v, k) => v + (r0 / (r0 + r1)) * (v - D11[k]!))
      D2 = D10.map((v, k) => (v - D11[k]!) / (r0 + r1))
    }
    const em = Math.exp(-h)
    const ep = Math.exp(h)
    const next = new Float64Array(x.length)
    for (let k = 0; k < x.length; k++) {
      const d0 = D0[k]!
      const d1 = D1 ? D1[k]! : 0
      const d2 = D2 ? D2[k]! : 0
      let v: number
      if (algo === 'dpmsolver++') {
        v = (t.s / cur.s) * x[k]! - t.a * (em - 1) * d0
        if (use === 2) v += solverType === 'heun' ? t.a * ((em - 1) / h + 1) * d1 : -0.5 * t.a * (em - 1) * d1
        if (use === 3) v += t.a * ((em - 1) / h + 1) * d1 - t.a * ((em - 1 + h) / (h * h) - 0.5) * d2
      } else if (algo === 'dpmsolver') {
        v = (t.a / cur.a) * x[k]! - t.s * (ep - 1) * d0
        if (use === 2) v += solverType === 'heun' ? -t.s * ((ep - 1) / h - 1) * d1 : -0.5 * t.s * (ep - 1) * d1
        if (use === 3) v += -t.s * ((ep - 1) / h - 1) * d1 - t.s * ((ep - 1 - h) / (h * h) - 0.5) * d2
      } else if (algo === 'sde-dpmsolver++') {
        const e2 = Math.exp(-2 * h)
        v = (t.s / cur.s) * em * x[k]! + t.a * (1 - e2) * d0 + t.s * Math.sqrt(1 - e2) * z![k]!
        if (use === 2) v += solverType === 'heun' ? t.a * ((1 - e2) / (-2 * h) + 1) * d1 : 0.5 * t.a * (1 - e2) * d1
        if (use === 3) v += t.a * ((1 - e2) / (-2 * h) + 1) * d1 + t.a * ((1 - e2 - 2 * h) / (2 * h) ** 2 - 0.5) * d2
      } else {
        v = (t.a / cur.a) * x[k]! - 2 * t.s * (ep - 1) * d0 + t.s * Math.sqrt(Math.exp(2 * h) - 1) * z![k]!
        if (use === 2) v += solverType === 'heun' ? -2 * t.s * ((ep - 1) / h - 1) * d1 : -t.s * (ep - 1) * d1
      }
      next[k] = v
    }
    if (warm < order) warm++
    x = next
    run.samples.push(x)
  }
  run.final = x
  return run
}

// ---------------------------------------------------------------------------------------------------
// UniPC (Zhao et al. 2023): predictor UniP-p and corrector UniC-p in the B(h) form

/** Solves A·y = r by Gaussian elimination with partial pivoting (small systems). */
function solve(A: number[][], r: number[]): number[] {
  const n = r.length
  const M = A.map((row, i) => [...row, r[i]!])
  for (let col = 0; col < n; col++) {
    let piv = col
    for (let row = col + 1; row < n; row++) if (Math.abs(M[row]![col]!) > Math.abs(M[piv]![col]!)) piv = row
    ;[M[col], M[piv]] = [M[piv]!, M[col]!]
    for (let row = 0; row < n; row++) {
      if (row === col) continue
      const f = M[row]![col]! / M[col]![col]!
      for (let k = col; k <= n; k++) M[row]![k]! -= f * M[col]![k]!
    }
  }
  return M.map((row, i) => row[n]! / row[i]!)
}

export function refUniPC(c: Cfg, steps: number, base: Float64Array, model: Model, batch = 1): RefRun {
  const plan = multistepPlan(c, steps, true)
  const order = numberOr(c, 'solver_order', 2)
  const pred = stringOr(c, 'prediction_type', 'epsilon') as Pred
  const dataPred = on(c, 'predict_x0', true)
  const bh1 = stringOr(c, 'solver_type', 'bh2') === 'bh1'
  const lof = on(c, 'lower_order_final', true)
  const disabled = (c['disable_corrector'] as number[] | undefined) ?? []
  const n = plan.ts.length
  const lam = (idx: number) => vp(plan.sigmas[idx]!).lambda

  /**
   * One B(h) update from level s0 to level tIdx: x_t = (σ_t/σ_s or α_t/α_s)·x − scale·φ₁(hh)·m0
   * − scale·B(h)·(Σ_k ρ_k·D_k [+ ρ_K·(mT − m0)]), ρ solving Σ_k ρ_k r_k^(i−1) = φ_{i+1}(hh)·i!·hh/B(h).
   */
  function update(x: Float64Array, tIdx: number, s0: number, history: Float64Array[], historyIdx: number[], mT: Float64Array | null, p: number): Float64Array {
    // UniP-p / UniC-p use the newest p outputs
    const ms = history.slice(0, p)
    const msIdx = historyIdx.slice(0, p)
    const T = vp(plan.sigmas[tIdx]!)
    const S = vp(plan.sigmas[s0]!)
    const h = T.lambda - S.lambda
    const hh = dataPred ? -h : h
    const phi1 = Math.expm1(hh)
    const B = bh1 ? hh : Math.expm1(hh)
    const m0 = ms[0]!
    const rks = msIdx.slice(1).map((idx) => (lam(idx) - S.lambda) / h)
    const Ds = ms.slice(1).map((mk, k) => mk.map((v, j) => (v - m0[j]!) / rks[k]!))
    // b_i = (i−1)!·... : the Taylor coefficients of φ, from h·φ_k recursions
    const b: number[] = []
    let hphi = phi1 / hh - 1
    let fact = 1
    for (let i = 1; i <= p; i++) {
      b.push((hphi * fact) / B)
      fact *= i + 1
      hphi = hphi / hh - 1 / fact
    }
    const rAll = [...rks, 1]
    let rhos: number[]
    if (mT === null) rhos = p === 2 ? [0.5] : p > 2 ? solve(Array.from({ length: p - 1 }, (_, i) => rks.map((r) => r ** i)), b.slice(0, p - 1)) : []
    else rhos = p === 1 ? [0.5] : solve(Array.from({ length: p }, (_, i) => rAll.map((r) => r ** i)), b)
    const hasRes = Ds.length > 0 || mT !== null
    const ratio = dataPred ? T.s / S.s : T.a / S.a
    const scale = dataPred ? T.a : T.s
    const out = new Float64Array(x.length)
    for (let j = 0; j < x.length; j++) {
      let res = 0
      Ds.forEach((D, k) => {
        res += rhos[k]! * D[j]!
      })
      if (mT) res += rhos[rhos.length - 1]! * (mT[j]! - m0[j]!)
      // without history terms the B(h) term is absent (diffusers multiplies B(h) by 0 there, which is
      // NaN when B(h) = hh = −∞ at a final σ of 0)
      out[j] = ratio * x[j]! - scale * phi1 * m0[j]! - (hasRes ? scale * B * res : 0)
    }
    return out
  }

  let x: Float64Array = Float64Array.from(base)
  const hist: Float64Array[] = [] // newest first
  const histIdx: number[] = []
  let last: Float64Array | null = null
  let lastOrder = 0
  let warm = 0
  const run: RefRun = { final: x, samples: [], timesteps: [] }
  for (let i = 0; i < n; i++) {
    const out = model(x, plan.ts[i]!)
    run.timesteps.push(plan.ts[i]!)
    const cur = vp(plan.sigmas[i]!)
    let m = dataPred ? vpX0(pred, out, x, cur.a, cur.s) : vpEps(pred, out, x, cur.a, cur.s)
    if (dataPred && on(c, 'thresholding')) m = postprocessX0(c, m, batch, false)
    if (i > 0 && last && !disabled.includes(i - 1)) x = update(last, i, i - 1, hist, histIdx, m, lastOrder)
    hist.unshift(m)
    histIdx.unshift(i)
    if (hist.length > order) {
      hist.pop()
      histIdx.pop()
    }
    const p = Math.min(lof ? Math.min(order, n - i) : order, warm + 1)
    last = x
    lastOrder = p
    x = update(x, i + 1, i, hist, histIdx, null, p)
    if (warm < order) warm++
    run.samples.push(x)
  }
  run.final = x
  return run
}

// ---------------------------------------------------------------------------------------------------
// Karras et al. 2022 Algorithm 2 (stochastic Heun with churn), the sampler of Point-E

export function refKarrasHeun(c: Cfg, steps: number, base: Float64Array, model: Model, noise: Noise): RefRun {
  const train = refTrainSigmas(refAlphaBar(c))
  const sMin = typeof c['sigma_min'] === 'number' ? (c['sigma_min'] as number) : train[0]!
  const sMax = typeof c['sigma_max'] === 'number' ? (c['sigma_max'] as number) : train[train.length - 1]!
  const sig = [...refKarras(sMin, sMax, steps, numberOr(c, 'rho', 7)), 0]
  const churn = numberOr(c, 's_churn', 0)
  const tmin = numberOr(c, 's_tmin', 0)
  const tmax = typeof c['s_tmax'] === 'number' ? (c['s_tmax'] as number) : Infinity
  const sNoise = numberOr(c, 's_noise', 1)
  const pred = stringOr(c, 'prediction_type', 'epsilon') as Pred
  const gamma = (s: number) => (tmin <= s && s <= tmax ? Math.min(churn / steps, Math.SQRT2 - 1) : 0)
  const run: RefRun = { final: new Float64Array(0), samples: [], timesteps: [] }
  const D = (x: Float64Array, s: number): Float64Array => {
    const t = refSigmaToT(s, train)
    run.timesteps.push(t)
    return veX0(pred, model(scaleIn(x, s), t), x, s)
  }
  // step 0's churn is folded into the start: x̂_0 = σ̂_0·z (the same law as σ_0·z + √(σ̂_0² − σ_0²)·ε);
  // the churn of step i + 1 is applied at the end of step i, right before its model evaluation
  let x: Float64Array = base.map((v) => v * sig[0]! * (1 + gamma(sig[0]!)))
  for (let i = 0; i < steps; i++) {
    const s = sig[i]!
    const sHat = s * (1 + gamma(s))
    const next = sig[i + 1]!
    const x0 = D(x, sHat)
    const d = x.map((v, j) => (v - x0[j]!) / sHat)
    const euler = x.map((v, j) => v + (next - sHat) * d[j]!)
    if (next === 0) {
      x = euler
    } else {
      run.samples.push(euler)
      const x0b = D(euler, next)
      x = x.map((v, j) => v + (next - sHat) * ((d[j]! + (euler[j]! - x0b[j]!) / next) / 2))
    }
    if (i + 1 < steps && gamma(next) > 0) {
      const e = noise.next(x.length)
      const k = sNoise * Math.sqrt((next * (1 + gamma(next))) ** 2 - next * next)
      x = x.map((v, j) => v + k * e[j]!)
    }
    run.samples.push(x)
  }
  run.final = x
  return run
}
