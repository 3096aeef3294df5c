import t from 'tap'
import { philox } from '../src/core/rng/index.js'
import { createSampler } from '../src/core/samplers/registry.js'
import type { SamplerPlan, SchedulerConfig } from '../src/core/samplers/types.js'
import { referenceKernels } from '../src/native/reference.js'
import { refAlphaBar, refTrainSigmas } from './helpers/reference-samplers.js'
import { runLoop } from './helpers/sampler-run.js'

// Closed forms that hold whatever the implementation: exact denoisers of simple data distributions.
//  - data x0 ~ N(μ, s²) elementwise: E[ε | x_t] = (x_t − √ᾱ·μ)·√(1−ᾱ)/(ᾱs² + 1 − ᾱ), and the
//    probability-flow ODE from noise level σ₀ maps the VE state x to μ + s·(x − μ)/√(s² + σ₀²) exactly;
//  - data a single point x0: E[ε | x_t] = (x_t − √ᾱ·x0)/√(1−ᾱ), the denoised estimate is x0 at every
//    level, and every sampler that ends at σ = 0 lands on x0 from any noise, in any number of steps.

type Pred = 'epsilon' | 'v_prediction' | 'sample'
const LIN = { beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear', num_train_timesteps: 1000 }
const SD = { beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', num_train_timesteps: 1000 }

/**
 * ᾱ at a model timestep: the training schedule at integer t; between integers, log σ interpolated
 * linearly, which is how the samplers map a noise level back to a fractional timestep.
 */
function alphaBarAt(config: Record<string, unknown>): (t: number) => number {
  const sig = refTrainSigmas(refAlphaBar(config))
  return (t) => {
    const k = Math.min(Math.floor(t), sig.length - 2)
    const w = t - k
    const s = w === 0 ? sig[k]! : Math.exp((1 - w) * Math.log(sig[k]!) + w * Math.log(sig[k + 1]!))
    return 1 / (1 + s * s)
  }
}

/** The exact model output for Gaussian data N(μ, s²), in the model's prediction type. */
function gaussianModel(config: Record<string, unknown>, mu: number, s: number, pred: Pred) {
  const abarAt = alphaBarAt(config)
  return (x: Float32Array, ts: number): Float32Array => {
    const a = abarAt(ts)
    const v = a * s * s + 1 - a
    return x.map((xi) => {
      const eps = ((xi - Math.sqrt(a) * mu) * Math.sqrt(1 - a)) / v
      const x0 = (xi - Math.sqrt(1 - a) * eps) / Math.sqrt(a)
      return pred === 'epsilon' ? eps : pred === 'sample' ? x0 : Math.sqrt(a) * eps - Math.sqrt(1 - a) * x0
    })
  }
}

/** The exact model output for data that is the single point x0. */
function pointModel(config: Record<string, unknown>, x0: Float32Array, pred: Pred) {
  const abarAt = alphaBarAt(config)
  return (x: Float32Array, ts: number): Float32Array => {
    const a = abarAt(ts)
    return x.map((xi, i) => {
      const eps = (xi - Math.sqrt(a) * x0[i]!) / Math.sqrt(1 - a)
      return pred === 'epsilon' ? eps : pred === 'sample' ? x0[i]! : Math.sqrt(a) * eps - Math.sqrt(1 - a) * x0[i]!
    })
  }
}

function meanStd(a: ArrayLike<number>): { mean: number; std: number } {
  let m = 0
  for (let i = 0; i < a.length; i++) m += a[i]!
  m /= a.length
  let v = 0
  for (let i = 0; i < a.length; i++) v += (a[i]! - m) ** 2
  return { mean: m, std: Math.sqrt(v / a.length) }
}

/** The VE noise level and VE state scale of a sampler's starting point (VP samplers start at x = z). */
function startLevel(plan: SamplerPlan, config: Record<string, unknown>, vePlan: boolean): { sigma0: number; veScale: number } {
  if (vePlan) return { sigma0: plan.initNoiseSigma, veScale: plan.initNoiseSigma }
  const a = plan.sigmas ? 1 / (1 + plan.sigmas[0]! ** 2) : refAlphaBar(config)[plan.timesteps[0]!]!
  return { sigma0: Math.sqrt((1 - a) / a), veScale: 1 / Math.sqrt(a) }
}

interface OdeCase {
  name: string
  cls: string
  config: Record<string, unknown>
  steps: number
  /** the sampler's state is the VE x = x0 + σ·ε (k-diffusion family) */
  ve: boolean
  /**
   * max over elements of |ours − exact| / s at `steps` (the discretisation error: uniform-timestep
   * schedules take large steps in log σ at the noisy end, so first-order methods need many steps)
   */
  tol: number
}

const odeCases: OdeCase[] = [
  { name: 'DDIM η=0', cls: 'DDIMScheduler', config: { ...LIN, clip_sample: false, timestep_spacing: 'trailing' }, steps: 200, ve: false, tol: 8e-2 },
  { name: 'PLMS', cls: 'PNDMScheduler', config: { ...LIN, skip_prk_steps: true, timestep_spacing: 'trailing' }, steps: 100, ve: false, tol: 2e-3 },
  { name: 'Euler', cls: 'EulerDiscreteScheduler', config: { ...LIN, timestep_spacing: 'trailing' }, steps: 200, ve: true, tol: 8e-2 },
  { name: 'Euler Karras', cls: 'EulerDiscreteScheduler', config: { ...LIN, use_karras_sigmas: true }, steps: 200, ve: true, tol: 8e-2 },
  { name: 'Heun', cls: 'HeunDiscreteScheduler', config: { ...LIN, timestep_spacing: 'trailing' }, steps: 200, ve: true, tol: 1e-2 },
  { name: 'LMS', cls: 'LMSDiscreteScheduler', config: { ...LIN, timestep_spacing: 'trailing' }, steps: 100, ve: true, tol: 5e-4 },
  { name: 'KDPM2', cls: 'KDPM2DiscreteScheduler', config: { ...LIN, timestep_spacing: 'trailing' }, steps: 200, ve: true, tol: 1e-2 },
  { name: 'DPM++ 2M', cls: 'DPMSolverMultistepScheduler', config: { ...LIN, timestep_spacing: 'trailing' }, steps: 200, ve: false, tol: 3e-3 },
  { name: 'DPM++ 3M', cls: 'DPMSolverMultistepScheduler', config: { ...LIN, solver_order: 3, timestep_spacing: 'trailing' }, steps: 200, ve: false, tol: 1.5e-2 },
  { name: 'UniPC bh2 order 3', cls: 'UniPCMultistepScheduler', config: { ...LIN, solver_order: 3, timestep_spacing: 'trailing' }, steps: 200, ve: false, tol: 1e-2 },
  { name: 'UniPC bh1', cls: 'UniPCMultistepScheduler', config: { ...LIN, solver_type: 'bh1', final_sigmas_type: 'sigma_min', timestep_spacing: 'trailing' }, steps: 200, ve: false, tol: 5e-3 },
  { name: 'Karras Heun (no churn)', cls: 'KarrasHeunScheduler', config: { ...LIN }, steps: 200, ve: true, tol: 1e-3 },
]

t.test('Gaussian data: deterministic samplers follow the exact probability-flow map to N(μ, s²)', async (t) => {
  const mu = 0.7
  const s = 0.4
  const shape = [1, 2048]
  const z = philox(11, { kernels: referenceKernels }).randn(shape)
  for (const c of odeCases) {
    for (const pred of ['epsilon', 'v_prediction', 'sample'] as const) {
      if (pred !== 'epsilon' && c.name !== 'DDIM η=0' && c.name !== 'DPM++ 2M' && c.name !== 'Euler') continue
      const config = { ...c.config, prediction_type: pred }
      const sampler = createSampler({ _class_name: c.cls, ...config } as SchedulerConfig)
      const model = gaussianModel(config, mu, s, pred)
      const errAt = async (steps: number) => {
        const plan = sampler.plan(steps)
        const { sigma0, veScale } = startLevel(plan, config, c.ve)
        const run = await runLoop({ sampler, steps, shape, base: z, generator: philox(0), kernels: referenceKernels, model })
        let worst = 0
        const exact = new Float64Array(z.length)
        for (let i = 0; i < z.length; i++) {
          exact[i] = mu + (s * (veScale * z[i]! - mu)) / Math.sqrt(s * s + sigma0 * sigma0)
          worst = Math.max(worst, Math.abs(run.final[i]! - exact[i]!) / s)
        }
        return { worst, out: meanStd(run.final), exact: meanStd(exact) }
      }
      const r = await errAt(c.steps)
      t.ok(r.worst < c.tol, `${c.name} (${pred}), ${c.steps} steps: max |x − exact|/s = ${r.worst.toExponential(2)} < ${c.tol}`)
      // sampling error of 2048 draws plus the tiny start mismatch (ᾱ_T ≈ 4e-5): a few percent at most
      t.ok(Math.abs(r.out.mean - mu) < 0.03 && Math.abs(r.out.std / s - 1) < 0.03, `${c.name} (${pred}): mean ${r.out.mean.toFixed(4)} ≈ μ ${mu}, std ${r.out.std.toFixed(4)} ≈ s ${s}`)
      if (pred === 'epsilon') {
        const coarse = await errAt(c.steps / 4)
        t.ok(coarse.worst > 2 * r.worst, `${c.name}: the error falls with more steps (${coarse.worst.toExponential(2)} at ${c.steps / 4} steps)`)
      }
    }
  }
})

interface PointCase {
  name: string
  cls: string
  config: Record<string, unknown>
}

const pointCases: PointCase[] = [
  { name: 'DDPM', cls: 'DDPMScheduler', config: { ...LIN } },
  { name: 'DDPM fixed_large', cls: 'DDPMScheduler', config: { ...LIN, variance_type: 'fixed_large' } },
  { name: 'DDIM', cls: 'DDIMScheduler', config: { ...SD } },
  { name: 'DDIM η=1', cls: 'DDIMScheduler', config: { ...SD, eta: 1 } },
  // PNDM ends at ᾱ_0 unless set_alpha_to_one, and always steps t → t − N/n (so leading spacing, whose
  // timesteps are that far apart); with v_prediction diffusers combines the raw v outputs of several
  // timesteps before converting them, which is not exact for this data (ε only)
  { name: 'PLMS', cls: 'PNDMScheduler', config: { ...SD, skip_prk_steps: true, set_alpha_to_one: true, steps_offset: 1 } },
  { name: 'PNDM (PRK warm-up)', cls: 'PNDMScheduler', config: { ...SD, set_alpha_to_one: true, steps_offset: 1 } },
  { name: 'Euler', cls: 'EulerDiscreteScheduler', config: { ...SD, timestep_spacing: 'trailing' } },
  { name: 'Euler Karras', cls: 'EulerDiscreteScheduler', config: { ...SD, use_karras_sigmas: true } },
  { name: 'Euler a', cls: 'EulerAncestralDiscreteScheduler', config: { ...SD, timestep_spacing: 'trailing' } },
  { name: 'Heun', cls: 'HeunDiscreteScheduler', config: { ...SD, timestep_spacing: 'trailing' } },
  { name: 'LMS', cls: 'LMSDiscreteScheduler', config: { ...SD, timestep_spacing: 'trailing' } },
  { name: 'KDPM2', cls: 'KDPM2DiscreteScheduler', config: { ...SD, timestep_spacing: 'trailing' } },
  { name: 'DPM++ 2M', cls: 'DPMSolverMultistepScheduler', config: { ...SD } },
  { name: 'DPM++ 3M SDE', cls: 'DPMSolverMultistepScheduler', config: { ...SD, solver_order: 3, algorithm_type: 'sde-dpmsolver++' } },
  { name: 'UniPC order 3', cls: 'UniPCMultistepScheduler', config: { ...SD, solver_order: 3 } },
  // churn only below σ_max: a noise level above the training range has no timestep of its own
  { name: 'Karras Heun with churn', cls: 'KarrasHeunScheduler', config: { ...LIN, s_churn: 5, s_tmax: 50 } },
]

t.test('a single data point: every sampler lands on it from any noise, in any number of steps', async (t) => {
  const shape = [1, 4, 8, 8]
  const x0 = Float32Array.from({ length: 256 }, (_, i) => 0.9 * Math.sin(0.3 * i + 0.2))
  for (const c of pointCases) {
    for (const steps of [1, 3, 10]) {
      if (steps < 4 && c.name === 'PNDM (PRK warm-up)') continue
      for (const pred of ['epsilon', 'v_prediction', 'sample'] as const) {
        // diffusers reads only ε and v outputs in these classes
        if (pred === 'sample' && ['PNDMScheduler', 'EulerAncestralDiscreteScheduler', 'KDPM2DiscreteScheduler'].includes(c.cls)) continue
        if (pred === 'v_prediction' && c.cls === 'PNDMScheduler') continue
        const config = { ...c.config, prediction_type: pred }
        const sampler = createSampler({ _class_name: c.cls, ...config } as SchedulerConfig)
        const gen = philox(3 + steps, { kernels: referenceKernels })
        const base = gen.randn(shape)
        const run = await runLoop({ sampler, steps, shape, base, generator: gen, kernels: referenceKernels, model: pointModel(config, x0, pred) })
        let worst = 0
        for (let i = 0; i < x0.length; i++) worst = Math.max(worst, Math.abs(run.final[i]! - x0[i]!))
        // 1e-3: with leading spacing the last step sits at t = 0, where 1 − ᾱ_0 = β_0 ≈ 1e-4 carries the
        // schedule's float32 rounding (6e-4 relative) into ε; elsewhere the error is float32 rounding
        t.ok(worst < 1e-3, `${c.name} (${pred}), ${steps} step(s): max |x − x0| = ${worst.toExponential(2)}`)
      }
    }
  }
})

t.test('DDIM η=0 with the exact denoiser of a point recovers it in one step, from any noise', async (t) => {
  const x0 = Float32Array.from({ length: 64 }, (_, i) => Math.cos(i))
  // trailing spacing: one step starts at t = 999 (leading and linspace would start at t = 0)
  for (const cfg of [
    { ...LIN, clip_sample: false, timestep_spacing: 'trailing' },
    { ...SD, clip_sample: false, timestep_spacing: 'trailing' },
  ]) {
    const sampler = createSampler({ _class_name: 'DDIMScheduler', ...cfg } as SchedulerConfig)
    const base = Float32Array.from({ length: 64 }, (_, i) => 3 * Math.sin(7 * i))
    const run = await runLoop({ sampler, steps: 1, shape: [1, 64], base, generator: philox(0), kernels: referenceKernels, model: pointModel(cfg, x0, 'epsilon') })
    const worst = Math.max(...Array.from(run.final, (v, i) => Math.abs(v - x0[i]!)))
    // x0 = (x − √(1−ᾱ)·ε)/√ᾱ at t = 999 divides float32 rounding by √ᾱ_999 (0.0064 for linear)
    t.ok(worst < 1e-4, `${cfg.beta_schedule}: one step lands on x0 (max error ${worst.toExponential(2)})`)
  }
})

t.test('Euler with the exact denoiser of a point contracts towards it by σ_next/σ at every step', async (t) => {
  const cfg = { ...SD, timestep_spacing: 'trailing' }
  const x0 = Float32Array.from({ length: 64 }, (_, i) => 0.5 * Math.cos(i))
  const sampler = createSampler({ _class_name: 'EulerDiscreteScheduler', ...cfg } as SchedulerConfig)
  const base = philox(5, { kernels: referenceKernels }).randn([1, 64])
  const plan = sampler.plan(8)
  const run = await runLoop({ sampler, steps: 8, shape: [1, 64], base, generator: philox(0), kernels: referenceKernels, model: pointModel(cfg, x0, 'epsilon') })
  const sig = plan.sigmas!
  for (let k = 0; k < 8; k++) {
    let worst = 0
    for (let i = 0; i < 64; i++) {
      const expected = x0[i]! + (sig[k + 1]! / sig[0]!) * (plan.initNoiseSigma * base[i]! - x0[i]!)
      worst = Math.max(worst, Math.abs(run.samples[k]![i]! - expected) / Math.max(1, Math.abs(expected)))
    }
    t.ok(worst < 1e-4, `step ${k}: x − x0 = (σ_${k + 1}/σ_0)·(x_T − x0) (rel error ${worst.toExponential(2)})`)
  }
})
