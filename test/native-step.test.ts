import t from 'tap'
import { getKernels, loadAddon, referenceKernels } from '../src/native/index.js'
import type { FusedStepParams, Kernels, PredictionType } from '../src/native/index.js'

// Independent float64 reference of one DDIM / DDPM update, written from diffusers' formulas
// (DDIMScheduler.step, DDPMScheduler.step) rather than from the kernel's parameterisation.
interface Case {
  pred: PredictionType
  aT: number // ᾱ_t
  aPrev: number // ᾱ_{t-1}
  kind: 'ddim' | 'ddpm'
  eta: number
  clip: number | null
  recompute: boolean
  guidance: number | null
  noise: boolean
}

function coefficients(c: Case): FusedStepParams {
  const a = Math.sqrt(c.aT)
  const b = Math.sqrt(1 - c.aT)
  if (c.kind === 'ddim') {
    const variance = ((1 - c.aPrev) / (1 - c.aT)) * (1 - c.aT / c.aPrev)
    const sigma = c.eta * Math.sqrt(variance)
    return {
      predictionType: c.pred,
      alphaProdSqrt: a,
      betaProdSqrt: b,
      clipSample: c.clip,
      recomputeEps: c.recompute,
      coefX0: Math.sqrt(c.aPrev),
      coefEps: Math.sqrt(1 - c.aPrev - sigma ** 2),
      coefSample: 0,
      coefNoise: c.noise ? sigma : 0,
      guidanceScale: c.guidance,
    }
  }
  const alphaT = c.aT / c.aPrev
  const betaT = 1 - alphaT
  const variance = ((1 - c.aPrev) / (1 - c.aT)) * betaT
  return {
    predictionType: c.pred,
    alphaProdSqrt: a,
    betaProdSqrt: b,
    clipSample: c.clip,
    recomputeEps: false,
    coefX0: (Math.sqrt(c.aPrev) * betaT) / (1 - c.aT),
    coefEps: 0,
    coefSample: (Math.sqrt(alphaT) * (1 - c.aPrev)) / (1 - c.aT),
    coefNoise: c.noise ? Math.sqrt(variance) : 0,
    guidanceScale: c.guidance,
  }
}

/** diffusers' step in float64; also the magnitude of the terms for the float32 rounding bound. */
function reference(c: Case, x: Float32Array, model: Float32Array, z: Float32Array): { out: Float64Array; x0: Float64Array; mag: Float64Array } {
  const n = x.length
  const out = new Float64Array(n)
  const x0s = new Float64Array(n)
  const mag = new Float64Array(n)
  const aT = c.aT
  const bT = 1 - aT
  for (let i = 0; i < n; i++) {
    const s = x[i]!
    let m = model[i]!
    let mMag = Math.abs(m)
    if (c.guidance !== null) {
      const cond = model[n + i]!
      m = m + c.guidance * (cond - m)
      mMag = Math.abs(model[i]!) + Math.abs(c.guidance) * (Math.abs(cond) + Math.abs(model[i]!))
    }
    let x0: number
    let eps: number
    let x0Mag: number
    let epsMag: number
    if (c.pred === 'epsilon') {
      x0 = (s - bT ** 0.5 * m) / aT ** 0.5
      eps = m
      x0Mag = (Math.abs(s) + bT ** 0.5 * mMag) / aT ** 0.5
      epsMag = mMag
    } else if (c.pred === 'sample') {
      x0 = m
      eps = (s - aT ** 0.5 * x0) / bT ** 0.5
      x0Mag = mMag
      epsMag = (Math.abs(s) + aT ** 0.5 * mMag) / bT ** 0.5
    } else {
      x0 = aT ** 0.5 * s - bT ** 0.5 * m
      eps = aT ** 0.5 * m + bT ** 0.5 * s
      x0Mag = aT ** 0.5 * Math.abs(s) + bT ** 0.5 * mMag
      epsMag = aT ** 0.5 * mMag + bT ** 0.5 * Math.abs(s)
    }
    if (c.clip !== null) x0 = Math.min(Math.max(x0, -c.clip), c.clip)
    if (c.recompute) {
      eps = (s - aT ** 0.5 * x0) / bT ** 0.5
      epsMag = (Math.abs(s) + aT ** 0.5 * x0Mag) / bT ** 0.5
    }
    const p = coefficients(c)
    let v: number
    if (c.kind === 'ddim') {
      // prev = sqrt(ᾱ_prev)·x0 + sqrt(1 − ᾱ_prev − σ²)·eps + σ·z
      v = Math.sqrt(c.aPrev) * x0 + p.coefEps * eps + (c.noise ? p.coefNoise * z[i]! : 0)
    } else {
      // posterior mean μ̃ = coefX0·x0 + coefSample·x_t, plus sqrt(β̃)·z
      const alphaT = aT / c.aPrev
      const mean = ((Math.sqrt(c.aPrev) * (1 - alphaT)) / (1 - aT)) * x0 + ((Math.sqrt(alphaT) * (1 - c.aPrev)) / (1 - aT)) * s
      v = mean + (c.noise ? p.coefNoise * z[i]! : 0)
    }
    out[i] = v
    x0s[i] = x0
    mag[i] = Math.abs(p.coefX0) * x0Mag + Math.abs(p.coefEps) * epsMag + Math.abs(p.coefSample * s) + Math.abs(p.coefNoise * z[i]!)
  }
  return { out, x0: x0s, mag }
}

function randn(n: number, seed: bigint): Float32Array {
  const a = new Float32Array(n)
  referenceKernels.philoxNormal(seed, 0, a)
  return a
}

/** Index of the first element whose bits differ, or -1 (t.same is slow on big typed arrays). */
function firstDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return 0
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length)
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length)
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return i
  return -1
}

const addon = loadAddon()
const impls: [string, Kernels][] = [['typescript', referenceKernels]]
if (addon) impls.push(['native cpu', getKernels('cpu')])

const cases: Case[] = []
for (const pred of ['epsilon', 'v_prediction', 'sample'] as const) {
  for (const kind of ['ddim', 'ddpm'] as const) {
    for (const clip of [null, 1]) {
      for (const recompute of kind === 'ddim' ? [false, true] : [false]) {
        for (const guidance of [null, 7.5]) {
          for (const noise of [false, true]) {
            cases.push({ pred, kind, aT: 0.3, aPrev: 0.55, eta: kind === 'ddim' ? 0.7 : 0, clip, recompute, guidance, noise })
          }
        }
      }
    }
  }
}

for (const [name, k] of impls) {
  t.test(`${name}: fused step matches diffusers' DDIM/DDPM formulas in float64 (${cases.length} configurations)`, async (t) => {
    const n = 1003 // not a multiple of 4 or of the chunk size
    const x = randn(n, 11n)
    const m = randn(2 * n, 12n)
    const z = randn(n, 13n)
    for (const c of cases) {
      const p = coefficients(c)
      const model = c.guidance === null ? m.subarray(0, n) : m
      const out = new Float32Array(n)
      const x0 = new Float32Array(n)
      k.fusedStep(x, model, c.noise ? z : null, p, out, x0)
      const e = reference(c, x, model, z)
      let worst = 0
      let worstX0 = 0
      for (let i = 0; i < n; i++) {
        worst = Math.max(worst, Math.abs(out[i]! - e.out[i]!) / (e.mag[i]! + 1e-30))
        worstX0 = Math.max(worstX0, Math.abs(x0[i]! - e.x0[i]!) / (Math.abs(e.x0[i]!) + 1e-3))
      }
      const label = JSON.stringify(c)
      if (!(worst < 2e-6)) t.fail(`${label}: out relative error ${worst}`)
      if (!(worstX0 < 2e-5)) t.fail(`${label}: x0 relative error ${worstX0}`)
    }
    t.pass('every prediction type, clip, recomputeEps, guidance halves and noise within float32 rounding')
  })

  t.test(`${name}: async equals sync on a large tensor; out may alias x; x0Out is optional`, async (t) => {
    const n = 200_001
    const x = randn(n, 21n)
    const m = randn(2 * n, 22n)
    const z = randn(n, 23n)
    const p = coefficients({ pred: 'epsilon', kind: 'ddim', aT: 0.4, aPrev: 0.6, eta: 1, clip: null, recompute: false, guidance: 4, noise: true })
    const a = new Float32Array(n)
    const b = new Float32Array(n)
    k.fusedStep(x, m, z, p, a)
    await k.fusedStepAsync(x, m, z, p, b, null)
    t.equal(firstDiff(b, a), -1, 'async identical')
    const xa = x.slice()
    k.fusedStep(xa, m, z, p, xa)
    t.equal(firstDiff(xa, a), -1, 'in place on x')
  })
}

t.test('native CPU step equals the TypeScript reference to float32 rounding on every element', { skip: addon ? false : 'native addon not loaded' }, async (t) => {
  const n = 50_000
  const x = randn(n, 31n)
  const m = randn(2 * n, 32n)
  const z = randn(n, 33n)
  const p = coefficients({ pred: 'v_prediction', kind: 'ddim', aT: 0.2, aPrev: 0.5, eta: 0.3, clip: 1.5, recompute: true, guidance: 3, noise: true })
  const a = new Float32Array(n)
  const b = new Float32Array(n)
  getKernels('cpu').fusedStep(x, m, z, p, a)
  referenceKernels.fusedStep(x, m, z, p, b)
  let worst = 0
  for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / (Math.abs(b[i]!) + 1))
  t.ok(worst < 5e-6, `max difference ${worst}`)
})
