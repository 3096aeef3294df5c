import { readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Kernels } from '../../src/native/kernels.js'
import type { Generator } from '../../src/core/rng/types.js'
import { parsePythonJson } from '../../src/core/samplers/config.js'
import type { ModelOutput, Sampler } from '../../src/core/samplers/types.js'

/** The conformance scheduler files (read at run time from ../shared, never copied). */
export const schedulerConformanceDir = fileURLToPath(new URL('../../../shared/conformance/schedulers/', import.meta.url))

export interface SchedulerCase {
  name: string
  class: string
  config: Record<string, unknown>
  num_inference_steps: number
  step_kwargs: Record<string, unknown>
  guidance_scale: number | null
  timesteps: number[]
  sigmas?: number[]
  init_noise_sigma: number
  seed?: number
  base: number[]
  intermediate: { index: number; sample: number[] }[]
  final: number[]
}

export function listSchedulerCases(): { file: string; data: SchedulerCase }[] {
  return readdirSync(schedulerConformanceDir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, data: parsePythonJson(readFileSync(schedulerConformanceDir + file, 'utf8')) as SchedulerCase }))
}

/** The conformance README's analytic model, evaluated in float32 like torch. */
export function analyticEps(x: Float32Array, t: number): Float32Array {
  const out = new Float32Array(x.length)
  const c = Math.cos(0.01 * t)
  const s = Math.sin(0.02 * t)
  for (let i = 0; i < x.length; i++) out[i] = 0.5 * Math.tanh(x[i]!) + 0.1 * c * x[i]! + 0.05 * s
  return out
}

export function analyticEpsUncond(x: Float32Array, t: number): Float32Array {
  const out = new Float32Array(x.length)
  const c = Math.cos(0.01 * t)
  for (let i = 0; i < x.length; i++) out[i] = 0.3 * Math.tanh(x[i]!) - 0.02 * c
  return out
}

export interface RunOptions {
  sampler: Sampler
  steps: number
  shape: readonly number[]
  base: Float32Array
  generator: Generator
  kernels: Kernels
  guidanceScale?: number | null
  /** pass guidance halves in one buffer (the fused path) or in two separate arrays */
  contiguousHalves?: boolean
  /** a custom model (x, t) → output; defaults to the analytic one */
  model?: (x: Float32Array, t: number) => Float32Array
}

/** The diffusers reference loop of the conformance README, through the Sampler interface. */
export async function runLoop(o: RunOptions): Promise<{ samples: Float32Array[]; final: Float32Array; timesteps: number[] }> {
  const plan = o.sampler.plan(o.steps)
  const state = o.sampler.createState(plan)
  let x: Float32Array = new Float32Array(o.base.length)
  for (let i = 0; i < x.length; i++) x[i] = o.base[i]! * plan.initNoiseSigma
  const samples: Float32Array[] = []
  const model = o.model ?? analyticEps
  for (let index = 0; index < plan.timesteps.length; index++) {
    const t = plan.timesteps[index]!
    const xin = o.sampler.scaleModelInput(x, index, plan, state)
    let mo: ModelOutput
    if (o.guidanceScale !== null && o.guidanceScale !== undefined) {
      const u = analyticEpsUncond(xin, t)
      const c = model(xin, t)
      if (o.contiguousHalves !== false) {
        const both = new Float32Array(2 * x.length)
        both.set(u)
        both.set(c, x.length)
        mo = { uncond: both.subarray(0, x.length), cond: both.subarray(x.length), scale: o.guidanceScale, rescale: 0 }
      } else {
        mo = { uncond: u, cond: c, scale: o.guidanceScale, rescale: 0 }
      }
    } else {
      mo = model(xin, t)
    }
    const r = await o.sampler.step({ plan, state, index, sample: x, shape: o.shape, modelOutput: mo, generator: o.generator, kernels: o.kernels })
    x = r.prevSample
    samples.push(x)
  }
  return { samples, final: x, timesteps: Array.from(plan.timesteps) }
}

/** ‖a − b‖ / ‖b‖ */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0
  let den = 0
  for (let i = 0; i < b.length; i++) {
    num += (a[i]! - b[i]!) ** 2
    den += b[i]! ** 2
  }
  return Math.sqrt(num / den)
}

/** max |a − b| / max(1, |b|) elementwise */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)))
  return m
}
