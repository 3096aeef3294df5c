import t from 'tap'
import { philox } from '../src/core/rng/index.js'
import { createSampler } from '../src/core/samplers/registry.js'
import type { Sampler, SchedulerConfig } from '../src/core/samplers/types.js'
import type { Kernels } from '../src/native/kernels.js'
import { getKernels } from '../src/native/loader.js'
import { referenceKernels } from '../src/native/reference.js'
import { epsCond } from './helpers/conformance.js'
import {
  refDDIM,
  refDDPM,
  refDPMSolver,
  refEuler,
  refHeun,
  refKarrasHeun,
  refKDPM2,
  refLMS,
  refUniPC,
  type Cfg,
  type Model,
  type Noise,
  type RefRun,
} from './helpers/reference-samplers.js'
import { analyticEps, relErr, runLoop } from './helpers/sampler-run.js'

// Every sampler class and option that has no conformance file, against the float64 re-implementations
// of test/helpers/reference-samplers.ts, with the conformance README's analytic model and deterministic
// (philox) noise: the SDK runs in float32, the reference in float64, so they agree to float32 rounding
// accumulated over the run.

const TOL = 2e-4

const kernelSets: [string, Kernels][] = [['typescript', referenceKernels]]
const cpu = getKernels('cpu')
if (cpu.device === 'cpu') kernelSets.push(['native cpu', cpu])

/** The analytic model in float64, elementwise as in the conformance README. */
const model64: Model = (x, ts) => x.map((v) => epsCond(v, ts))

function philoxNoise(seed: number): Noise {
  const g = philox(seed, { kernels: referenceKernels })
  return { next: (n) => Float64Array.from(g.randn([n])) }
}

type RefFn = (c: Cfg, steps: number, base: Float64Array, model: Model, noise: Noise, batch: number) => RefRun

interface Case {
  name: string
  cls: string
  config: Record<string, unknown>
  steps: number
  ref: RefFn
  shape?: number[]
  /**
   * timesteps cast to integers from log-σ interpolation (exponential ladders) can land within 1e-4 of
   * an integer, where diffusers' float32 log-σ table and a float64 one decide differently: at most this
   * many may differ by 1, and the run's tolerance is then 1e-3 (a step of the analytic model's t-terms)
   */
  integerCastTies?: number
}

const SD = { beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', num_train_timesteps: 1000 }
const LIN = { beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear', num_train_timesteps: 1000 }

// dynamic thresholding bites where x0 estimates exceed 1: early, at high noise, with ε prediction
const THRESH_UNIPC = { ...LIN, thresholding: true, dynamic_thresholding_ratio: 0.9, sample_max_value: 1.5 }
const THRESH_DPM = { ...LIN, thresholding: true, dynamic_thresholding_ratio: 0.9, sample_max_value: 1.2 }
const THRESH_DDPM = { ...LIN, thresholding: true, dynamic_thresholding_ratio: 0.95, sample_max_value: 1.5 }
const THRESH_DDIM = { ...LIN, thresholding: true, dynamic_thresholding_ratio: 0.9, sample_max_value: 1.3, eta: 0.5 }

const lms: RefFn = (c, s, b, m) => refLMS(c, s, b, m)
const kdpm2: RefFn = (c, s, b, m) => refKDPM2(c, s, b, m)
const heun: RefFn = (c, s, b, m) => refHeun(c, s, b, m)
const unipc: RefFn = (c, s, b, m, _n, batch) => refUniPC(c, s, b, m, batch)

const cases: Case[] = [
  // LMS
  { name: 'LMS (order 4, linspace)', cls: 'LMSDiscreteScheduler', config: { ...SD, timestep_spacing: 'linspace' }, steps: 20, ref: lms },
  { name: 'LMS Karras', cls: 'LMSDiscreteScheduler', config: { ...SD, use_karras_sigmas: true }, steps: 15, ref: lms },
  { name: 'LMS exponential sigmas', cls: 'LMSDiscreteScheduler', config: { ...SD, use_exponential_sigmas: true }, steps: 15, ref: lms },
  { name: 'LMS order 2, leading, v_prediction', cls: 'LMSDiscreteScheduler', config: { ...SD, timestep_spacing: 'leading', steps_offset: 1, prediction_type: 'v_prediction', lms_order: 2 }, steps: 12, ref: lms },
  { name: 'LMS sample prediction, trailing', cls: 'LMSDiscreteScheduler', config: { ...LIN, timestep_spacing: 'trailing', prediction_type: 'sample' }, steps: 10, ref: lms },
  // KDPM2
  { name: 'KDPM2', cls: 'KDPM2DiscreteScheduler', config: { ...SD }, steps: 12, ref: kdpm2 },
  { name: 'KDPM2 Karras', cls: 'KDPM2DiscreteScheduler', config: { ...SD, use_karras_sigmas: true }, steps: 10, ref: kdpm2 },
  { name: 'KDPM2 exponential, v_prediction, trailing', cls: 'KDPM2DiscreteScheduler', config: { ...SD, use_exponential_sigmas: true, prediction_type: 'v_prediction', timestep_spacing: 'trailing' }, steps: 8, ref: kdpm2 },
  { name: 'KDPM2 leading', cls: 'KDPM2DiscreteScheduler', config: { ...LIN, timestep_spacing: 'leading', steps_offset: 1 }, steps: 9, ref: kdpm2 },
  // UniPC
  ...(['bh1', 'bh2'] as const).flatMap((solver) =>
    [1, 2, 3].map(
      (order): Case => ({
        name: `UniPC ${solver} order ${order}`,
        cls: 'UniPCMultistepScheduler',
        // bh1 ends at σ_min: with a final σ of 0 its B(h) = −h is infinite (see reference-samplers.ts)
        config: { ...SD, solver_type: solver, solver_order: order, ...(solver === 'bh1' ? { final_sigmas_type: 'sigma_min' } : {}) },
        steps: 12,
        ref: unipc,
      }),
    ),
  ),
  // the deliberate difference from diffusers (NaN there): the last first-order step has no B(h) term
  { name: 'UniPC bh1 order 2, final σ = 0', cls: 'UniPCMultistepScheduler', config: { ...SD, solver_type: 'bh1' }, steps: 12, ref: unipc },
  { name: 'UniPC order 3, 20 steps, no lower_order_final', cls: 'UniPCMultistepScheduler', config: { ...SD, solver_order: 3, lower_order_final: false, final_sigmas_type: 'sigma_min' }, steps: 20, ref: unipc },
  { name: 'UniPC Karras, sigma_min', cls: 'UniPCMultistepScheduler', config: { ...SD, use_karras_sigmas: true, final_sigmas_type: 'sigma_min' }, steps: 10, ref: unipc },
  { name: 'UniPC exponential', cls: 'UniPCMultistepScheduler', config: { ...SD, use_exponential_sigmas: true }, steps: 10, ref: unipc, integerCastTies: 1 },
  // noise prediction ends at σ_min: at a final σ of 0 its σ_t·φ₁(h) is 0·∞
  { name: 'UniPC noise prediction (predict_x0 false), order 3', cls: 'UniPCMultistepScheduler', config: { ...SD, predict_x0: false, solver_order: 3, final_sigmas_type: 'sigma_min' }, steps: 12, ref: unipc },
  { name: 'UniPC disable_corrector [0, 2], leading', cls: 'UniPCMultistepScheduler', config: { ...SD, disable_corrector: [0, 2], timestep_spacing: 'leading', steps_offset: 1 }, steps: 10, ref: unipc },
  { name: 'UniPC v_prediction, zero SNR, trailing', cls: 'UniPCMultistepScheduler', config: { ...SD, prediction_type: 'v_prediction', rescale_betas_zero_snr: true, timestep_spacing: 'trailing' }, steps: 10, ref: unipc },
  { name: 'UniPC thresholding (batch 2)', cls: 'UniPCMultistepScheduler', config: THRESH_UNIPC, steps: 8, ref: unipc, shape: [2, 4, 8, 8] },
  { name: 'UniPC sample prediction', cls: 'UniPCMultistepScheduler', config: { ...LIN, prediction_type: 'sample' }, steps: 8, ref: unipc },
  // DPM-Solver(++) multistep
  { name: 'DPM++ 3M', cls: 'DPMSolverMultistepScheduler', config: { ...SD, solver_order: 3 }, steps: 20, ref: refDPMSolver },
  { name: 'DPM++ 3M, 10 steps (lower_order_final)', cls: 'DPMSolverMultistepScheduler', config: { ...SD, solver_order: 3 }, steps: 10, ref: refDPMSolver },
  { name: 'DPM++ 3M, 10 steps, no lower_order_final, sigma_min', cls: 'DPMSolverMultistepScheduler', config: { ...SD, solver_order: 3, lower_order_final: false, final_sigmas_type: 'sigma_min' }, steps: 10, ref: refDPMSolver },
  { name: 'DPM++ 2M heun, euler_at_final, sigma_min', cls: 'DPMSolverMultistepScheduler', config: { ...SD, solver_type: 'heun', euler_at_final: true, final_sigmas_type: 'sigma_min' }, steps: 16, ref: refDPMSolver },
  { name: 'DPM++ 2M Karras', cls: 'DPMSolverMultistepScheduler', config: { ...SD, use_karras_sigmas: true }, steps: 15, ref: refDPMSolver },
  { name: 'DPM++ 2M exponential', cls: 'DPMSolverMultistepScheduler', config: { ...SD, use_exponential_sigmas: true }, steps: 15, ref: refDPMSolver, integerCastTies: 1 },
  { name: 'DPM++ 2M squaredcos, lambda_min_clipped -5.1, Karras (unrounded timesteps)', cls: 'DPMSolverMultistepScheduler', config: { ...LIN, beta_schedule: 'squaredcos_cap_v2', lambda_min_clipped: -5.1, use_karras_sigmas: true }, steps: 12, ref: refDPMSolver, integerCastTies: 1 },
  { name: 'DPM++ 2M squaredcos, lambda_min_clipped -5.1, trailing, v_prediction', cls: 'DPMSolverMultistepScheduler', config: { ...LIN, beta_schedule: 'squaredcos_cap_v2', lambda_min_clipped: -5.1, timestep_spacing: 'trailing', prediction_type: 'v_prediction' }, steps: 12, ref: refDPMSolver },
  { name: 'DPM++ 2M squaredcos, lambda_min_clipped -5.1, linspace', cls: 'DPMSolverMultistepScheduler', config: { ...LIN, beta_schedule: 'squaredcos_cap_v2', lambda_min_clipped: -5.1 }, steps: 12, ref: refDPMSolver },
  { name: 'DPM++ 2M use_lu_lambdas', cls: 'DPMSolverMultistepScheduler', config: { ...SD, use_lu_lambdas: true }, steps: 15, ref: refDPMSolver },
  { name: 'DPM++ 2M SDE Karras', cls: 'DPMSolverMultistepScheduler', config: { ...SD, algorithm_type: 'sde-dpmsolver++', use_karras_sigmas: true }, steps: 15, ref: refDPMSolver },
  { name: 'DPM++ 2M SDE heun', cls: 'DPMSolverMultistepScheduler', config: { ...SD, algorithm_type: 'sde-dpmsolver++', solver_type: 'heun' }, steps: 12, ref: refDPMSolver },
  { name: 'DPM++ 3M SDE', cls: 'DPMSolverMultistepScheduler', config: { ...SD, algorithm_type: 'sde-dpmsolver++', solver_order: 3 }, steps: 20, ref: refDPMSolver },
  { name: 'DPM-Solver (noise prediction) order 3, sigma_min', cls: 'DPMSolverMultistepScheduler', config: { ...SD, algorithm_type: 'dpmsolver', solver_order: 3, final_sigmas_type: 'sigma_min' }, steps: 16, ref: refDPMSolver },
  { name: 'SDE-DPM-Solver order 2, sigma_min', cls: 'DPMSolverMultistepScheduler', config: { ...SD, algorithm_type: 'sde-dpmsolver', final_sigmas_type: 'sigma_min' }, steps: 12, ref: refDPMSolver },
  { name: 'DPM++ 2M v_prediction, zero SNR, trailing', cls: 'DPMSolverMultistepScheduler', config: { ...SD, prediction_type: 'v_prediction', rescale_betas_zero_snr: true, timestep_spacing: 'trailing' }, steps: 12, ref: refDPMSolver },
  { name: 'DPM++ 2M thresholding (batch 2)', cls: 'DPMSolverMultistepScheduler', config: THRESH_DPM, steps: 10, ref: refDPMSolver, shape: [2, 4, 8, 8] },
  { name: 'DPM-Solver (noise prediction) thresholding, sigma_min', cls: 'DPMSolverMultistepScheduler', config: { ...THRESH_DPM, algorithm_type: 'dpmsolver', final_sigmas_type: 'sigma_min' }, steps: 10, ref: refDPMSolver, shape: [2, 4, 8, 8] },
  { name: 'DPM++ 2M sample prediction', cls: 'DPMSolverMultistepScheduler', config: { ...LIN, prediction_type: 'sample' }, steps: 10, ref: refDPMSolver },
  { name: 'DPM++ 2M squaredcos, leading', cls: 'DPMSolverMultistepScheduler', config: { ...LIN, beta_schedule: 'squaredcos_cap_v2', timestep_spacing: 'leading', steps_offset: 1 }, steps: 12, ref: refDPMSolver },
  // DDPM variance types, clipping, thresholding, prediction types
  { name: 'DDPM fixed_small, clip_sample', cls: 'DDPMScheduler', config: { ...LIN, variance_type: 'fixed_small', clip_sample: true }, steps: 25, ref: refDDPM },
  { name: 'DDPM fixed_small_log', cls: 'DDPMScheduler', config: { ...LIN, variance_type: 'fixed_small_log', clip_sample: false }, steps: 25, ref: refDDPM },
  { name: 'DDPM fixed_large, clip range 2', cls: 'DDPMScheduler', config: { ...LIN, variance_type: 'fixed_large', clip_sample: true, clip_sample_range: 2 }, steps: 25, ref: refDDPM },
  { name: 'DDPM thresholding (batch 2)', cls: 'DDPMScheduler', config: THRESH_DDPM, steps: 20, ref: refDDPM, shape: [2, 4, 8, 8] },
  { name: 'DDPM sample prediction', cls: 'DDPMScheduler', config: { ...LIN, prediction_type: 'sample', clip_sample: false }, steps: 20, ref: refDDPM },
  { name: 'DDPM v_prediction, zero SNR, trailing', cls: 'DDPMScheduler', config: { ...SD, prediction_type: 'v_prediction', rescale_betas_zero_snr: true, timestep_spacing: 'trailing', clip_sample: false }, steps: 20, ref: refDDPM },
  { name: 'DDPM squaredcos, linspace', cls: 'DDPMScheduler', config: { ...LIN, beta_schedule: 'squaredcos_cap_v2', timestep_spacing: 'linspace', clip_sample: false }, steps: 20, ref: refDDPM },
  // DDIM options
  { name: 'DDIM v_prediction, zero SNR, trailing', cls: 'DDIMScheduler', config: { ...SD, prediction_type: 'v_prediction', rescale_betas_zero_snr: true, timestep_spacing: 'trailing', clip_sample: false, set_alpha_to_one: false }, steps: 15, ref: refDDIM },
  { name: 'DDIM eta 1, clip_sample, use_clipped_model_output', cls: 'DDIMScheduler', config: { ...LIN, eta: 1, clip_sample: true, use_clipped_model_output: true }, steps: 15, ref: refDDIM },
  { name: 'DDIM thresholding (batch 2), eta 0.5', cls: 'DDIMScheduler', config: THRESH_DDIM, steps: 15, ref: refDDIM, shape: [2, 4, 8, 8] },
  { name: 'DDIM sample prediction, linspace', cls: 'DDIMScheduler', config: { ...LIN, prediction_type: 'sample', timestep_spacing: 'linspace', clip_sample: false }, steps: 12, ref: refDDIM },
  // Euler options
  { name: 'Euler v_prediction, zero SNR, trailing', cls: 'EulerDiscreteScheduler', config: { ...SD, prediction_type: 'v_prediction', rescale_betas_zero_snr: true, timestep_spacing: 'trailing' }, steps: 15, ref: refEuler },
  { name: 'Euler Karras, sigma_min/sigma_max, final sigma_min', cls: 'EulerDiscreteScheduler', config: { ...SD, use_karras_sigmas: true, sigma_min: 0.05, sigma_max: 10, final_sigmas_type: 'sigma_min' }, steps: 12, ref: refEuler },
  { name: 'Euler exponential sigmas', cls: 'EulerDiscreteScheduler', config: { ...SD, use_exponential_sigmas: true }, steps: 12, ref: refEuler },
  { name: 'Euler with churn (s_churn 2, s_tmin 0.5, s_tmax 5)', cls: 'EulerDiscreteScheduler', config: { ...SD, s_churn: 2, s_tmin: 0.5, s_tmax: 5, s_noise: 1.003 }, steps: 12, ref: refEuler },
  // Heun options (its second stage goes through the fused kernel)
  { name: 'Heun clip_sample 0.8, v_prediction', cls: 'HeunDiscreteScheduler', config: { ...SD, clip_sample: true, clip_sample_range: 0.8, prediction_type: 'v_prediction' }, steps: 10, ref: heun },
  { name: 'Heun Karras, sample prediction', cls: 'HeunDiscreteScheduler', config: { ...SD, use_karras_sigmas: true, prediction_type: 'sample' }, steps: 10, ref: heun },
  { name: 'Heun exponential, trailing', cls: 'HeunDiscreteScheduler', config: { ...LIN, use_exponential_sigmas: true, timestep_spacing: 'trailing' }, steps: 8, ref: heun },
  // Karras / EDM Heun with churn
  { name: 'Karras Heun, no churn', cls: 'KarrasHeunScheduler', config: { ...LIN }, steps: 10, ref: refKarrasHeun },
  { name: 'Karras Heun churn (Point-E settings)', cls: 'KarrasHeunScheduler', config: { ...LIN, s_churn: 3, s_tmin: 0, s_tmax: Infinity, s_noise: 1, sigma_min: 0.002, sigma_max: 80 }, steps: 16, ref: refKarrasHeun },
  { name: 'Karras Heun churn in a window, s_noise 1.007, v_prediction', cls: 'KarrasHeunScheduler', config: { ...SD, s_churn: 40, s_tmin: 0.05, s_tmax: 2, s_noise: 1.007, prediction_type: 'v_prediction', rho: 5 }, steps: 12, ref: refKarrasHeun },
]

for (const [k, c] of cases.entries()) {
  t.test(c.name, async (t) => {
    const shape = c.shape ?? [1, 4, 8, 8]
    const n = shape.reduce((a, b) => a * b, 1)
    const seed = 100 + k
    const sampler: Sampler = createSampler({ _class_name: c.cls, ...c.config } as SchedulerConfig)
    const noise = philoxNoise(seed)
    const base64 = noise.next(n)
    const ref = c.ref({ _class_name: c.cls, ...c.config }, c.steps, base64, model64, noise, shape[0]!)
    t.ok(ref.final.every(Number.isFinite), 'the reference stays finite')
    for (const [kname, kernels] of kernelSets) {
      const gen = philox(seed, { kernels: referenceKernels })
      const base = gen.randn(shape)
      const run = await runLoop({ sampler, steps: c.steps, shape, base, generator: gen, kernels, model: analyticEps })
      t.same(run.timesteps.length, ref.timesteps.length, `${kname}: ${ref.timesteps.length} model evaluations`)
      // fractional timesteps come from float32 log-σ tables in diffusers (and here), float64 in the reference
      const diffs = run.timesteps.map((v, i) => Math.abs(v - ref.timesteps[i]!))
      const ties = diffs.filter((d) => d > 1e-2)
      t.ok(ties.length <= (c.integerCastTies ?? 0) && ties.every((d) => d === 1), `${kname}: timesteps match the reference (max diff ${Math.max(...diffs).toExponential(1)})`)
      const tol = c.integerCastTies && ties.length > 0 ? 1e-3 : TOL
      const e = relErr(run.final, ref.final)
      t.ok(e < tol, `${kname}: final rel error ${e.toExponential(2)} < ${tol}`)
      const mid = Math.floor(ref.samples.length / 2)
      const em = relErr(run.samples[mid]!, ref.samples[mid]!)
      t.ok(em < tol, `${kname}: sample after evaluation ${mid} rel error ${em.toExponential(2)} < ${tol}`)
    }
  })
}

t.test('the comparison tells the options apart (each option moves the result at least 5× the tolerance)', async (t) => {
  const base = philoxNoise(7).next(256)
  const run = (ref: RefFn, c: Record<string, unknown>, steps = 12) => ref(c, steps, base, model64, philoxNoise(8), 1).final
  const pairs: [string, RefFn, Record<string, unknown>, Record<string, unknown>][] = [
    ['UniPC bh1 vs bh2', unipc, { ...SD, solver_type: 'bh1', final_sigmas_type: 'sigma_min' }, { ...SD, solver_type: 'bh2', final_sigmas_type: 'sigma_min' }],
    ['UniPC order 2 vs 3', unipc, { ...SD, solver_order: 2 }, { ...SD, solver_order: 3 }],
    ['DPM++ order 2 vs 3', refDPMSolver, { ...SD, solver_order: 2 }, { ...SD, solver_order: 3 }],
    ['DPM++ midpoint vs heun', refDPMSolver, { ...SD }, { ...SD, solver_type: 'heun' }],
    ['LMS order 4 vs 2', lms, { ...SD }, { ...SD, lms_order: 2 }],
    ['KDPM2 Karras vs default', kdpm2, { ...SD }, { ...SD, use_karras_sigmas: true }],
    ['DDPM fixed_small vs fixed_large', refDDPM, { ...LIN, clip_sample: false }, { ...LIN, clip_sample: false, variance_type: 'fixed_large' }],
    ['Heun clip_sample 0.8 vs none', heun, { ...SD, clip_sample: true, clip_sample_range: 0.8, prediction_type: 'v_prediction' }, { ...SD, prediction_type: 'v_prediction' }],
    ['DPM++ thresholding vs none', refDPMSolver, THRESH_DPM, { ...THRESH_DPM, thresholding: false }],
    ['UniPC thresholding vs none', unipc, THRESH_UNIPC, { ...THRESH_UNIPC, thresholding: false }],
    ['DDPM thresholding vs clipping', refDDPM, THRESH_DDPM, { ...THRESH_DDPM, thresholding: false }],
    ['DDPM clipping vs none', refDDPM, { ...THRESH_DDPM, thresholding: false }, { ...THRESH_DDPM, thresholding: false, clip_sample: false }],
    ['DDIM thresholding vs none', refDDIM, THRESH_DDIM, { ...THRESH_DDIM, thresholding: false, clip_sample: false }],
    ['DDIM use_clipped_model_output vs not', refDDIM, { ...LIN, eta: 1, clip_sample: true, use_clipped_model_output: true }, { ...LIN, eta: 1, clip_sample: true }],
    ['Euler churn vs none', refEuler, { ...SD, s_churn: 2, s_tmin: 0.5, s_tmax: 5 }, { ...SD }],
  ]
  for (const [name, ref, a, b] of pairs) {
    const e = relErr(run(ref, a), run(ref, b))
    t.ok(e > 5 * TOL, `${name}: ${e.toExponential(2)} apart`)
  }
})
