import type { Generator } from '../rng/types.js'
import type { Kernels, PredictionType } from '../../native/kernels.js'

/** A diffusers scheduler_config.json object: `_class_name` plus config keys (unknown keys are kept). */
export interface SchedulerConfig {
  _class_name: string
  [key: string]: unknown
}

/**
 * An immutable plan for one run with a given number of inference steps: what diffusers'
 * `set_timesteps` computes. `timesteps` has one entry per model evaluation (second-order samplers
 * such as Heun repeat entries, as diffusers does).
 */
export interface SamplerPlan {
  readonly numInferenceSteps: number
  /** the timestep value handed to the model at each model evaluation (may be fractional) */
  readonly timesteps: Float64Array
  /** noise levels (k-diffusion style samplers), length timesteps.length + 1 where diffusers has it */
  readonly sigmas?: Float64Array
  readonly initNoiseSigma: number
}

/** The model output of one evaluation: plain, or classifier-free guidance halves still to combine. */
export type ModelOutput =
  | Float32Array
  | {
      /** unconditional prediction, `batch` items */
      readonly uncond: Float32Array
      /** conditional prediction, same length */
      readonly cond: Float32Array
      readonly scale: number
      /** guidance rescale φ (0 = off) */
      readonly rescale: number
    }

export interface StepInput {
  readonly plan: SamplerPlan
  /** per-run mutable state from createState (multistep history, Heun's first stage...) */
  readonly state: SamplerState
  /** index into plan.timesteps of this model evaluation */
  readonly index: number
  /** x_t; never modified */
  readonly sample: Float32Array
  readonly shape: readonly number[]
  readonly modelOutput: ModelOutput
  /** feeds every noise draw the step makes, in diffusers' order */
  readonly generator: Generator
  readonly kernels: Kernels
}

export interface StepOutput {
  readonly prevSample: Float32Array
  /** the model's current estimate of the clean sample, when the sampler computes it (previews) */
  readonly predOriginal?: Float32Array
}

/** Opaque per-run state. Samplers keep everything that changes during a run here, never on `this`. */
export type SamplerState = Record<string, unknown>

/**
 * A sampler with diffusers semantics. Instances are immutable and may serve many concurrent runs:
 * plan() and createState() give each run its own objects.
 */
export interface Sampler {
  /** diffusers class name, e.g. 'DDIMScheduler' */
  readonly className: string
  /** the full config: every key the class knows, defaults filled in, unknown harmless keys kept */
  readonly config: Readonly<SchedulerConfig>
  readonly predictionType: PredictionType
  /** model evaluations per inference step (diffusers `order`): 2 for Heun and KDPM2, else 1 */
  readonly order: number
  plan(numInferenceSteps: number): SamplerPlan
  createState(plan: SamplerPlan): SamplerState
  /** diffusers scale_model_input; returns `sample` itself when the sampler does not scale */
  scaleModelInput(sample: Float32Array, index: number, plan: SamplerPlan, state: SamplerState): Float32Array
  step(input: StepInput): Promise<StepOutput>
  /**
   * diffusers add_noise: the forward process to the noise level of plan.timesteps[index]
   * (img2img start, inpainting blend). Returns a new array.
   */
  addNoise(original: Float32Array, noise: Float32Array, index: number, plan: SamplerPlan): Float32Array
  /** the diffusers JSON form (`_class_name` + config) */
  toJSON(): SchedulerConfig
}
