import { randomInt } from 'node:crypto'
import { DiffuseError, invalidArgument } from '../errors.js'
import type { StepProgress } from '../core/loop.js'
import { createGenerator } from '../core/rng/index.js'
import type { Generator, GeneratorKind, GeneratorRecord } from '../core/rng/types.js'
import { createSampler } from '../core/samplers/registry.js'
import type { Sampler, SchedulerConfig } from '../core/samplers/types.js'
import type { DeviceRequest, Kernels } from '../native/kernels.js'
import { getKernels } from '../native/loader.js'
import { checkInteger, checkNumber, checkOneOf, checkSignal } from '../validate.js'
import type { ModelFolder } from './model-folder.js'
import { packageVersion } from './package-root.js'

/** Options every modality's generate() accepts. */
export interface CommonGenerateOptions {
  /** inference steps (default: the model's) */
  steps?: number
  /** a sampler name or alias ('DDIM', 'Euler a', 'DPM++ 2M Karras'...) or a diffusers scheduler config */
  sampler?: string | SchedulerConfig
  /** classifier-free guidance scale (1 = off) */
  guidance?: number
  /** guidance rescale φ ∈ [0, 1] */
  guidanceRescale?: number
  /** seed of the generator (default: a random one, recorded in the result) */
  seed?: number
  /** which generator: 'philox' (default), 'torch-cpu' or 'torch-cuda' (torch.randn-compatible) */
  generator?: GeneratorKind
  signal?: AbortSignal
  onProgress?: (progress: StepProgress) => void
}

/** Options of a pipeline as a whole (fixed when it loads). */
export interface PipelineOptions {
  /** kernels and ONNX execution provider: 'cpu' | 'cuda' | 'auto' (default 'auto') */
  device?: DeviceRequest
  /** ONNX intra-op threads */
  threads?: number
  /**
   * run generations in worker threads (a pool shared by the process, sized to the machine), so that the
   * caller's event loop keeps answering; same options and results as in-thread. Default false.
   */
  workers?: boolean
}

/**
 * What reproduces a generated result: pass it back as `generate(record)` (the API) or
 * `--replay record.json` (the CLI) and the same result comes out.
 */
export interface GenerationRecord {
  diffusekit: string
  modality: 'audio' | 'pointcloud' | 'image'
  model: string
  /** the modality's own inputs (text, notes, prompt, ...) */
  inputs: Record<string, unknown>
  sampler: SchedulerConfig
  steps: number
  guidance: number
  guidanceRescale: number
  generator: GeneratorRecord
}

export interface ResolvedRun {
  readonly sampler: Sampler
  readonly steps: number
  readonly guidance: number
  readonly guidanceRescale: number
  readonly seed: number
  readonly generatorKind: GeneratorKind
  readonly generator: Generator
}

const GENERATOR_KINDS: readonly GeneratorKind[] = ['philox', 'torch-cpu', 'torch-cuda']

/** Validates the common options against a model's defaults and builds the run's sampler and generator. */
export function resolveRun(model: ModelFolder, options: CommonGenerateOptions): ResolvedRun {
  if (options === null || typeof options !== 'object') throw invalidArgument('options', 'an object', options)
  const defaults = model.config.defaults ?? {}
  const steps = checkInteger('steps', options.steps ?? defaults.steps ?? 25, 1, 1000)
  const guidance = checkNumber('guidance', options.guidance ?? defaults.guidance ?? 1, 0, 100)
  const guidanceRescale = checkNumber('guidanceRescale', options.guidanceRescale ?? defaults.guidanceRescale ?? 0, 0, 1)
  const seed = options.seed === undefined ? randomInt(2 ** 47) : checkInteger('seed', options.seed, 0, Number.MAX_SAFE_INTEGER)
  const generatorKind = checkOneOf('generator', options.generator ?? 'philox', GENERATOR_KINDS)
  checkSignal('signal', options.signal)
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw invalidArgument('onProgress', 'a function', options.onProgress)
  if (!model.scheduler) throw new DiffuseError('MODEL_LOAD', `Model ${model.name} has no scheduler/scheduler_config.json`)
  const choice = options.sampler ?? defaults.sampler
  // a name switches the model's scheduler as diffusers' from_config does; a full config (a replayed
  // record) is taken as it is
  const sampler = choice === undefined ? createSampler(model.scheduler) : typeof choice === 'string' ? createSampler(choice, model.scheduler) : createSampler(choice)
  return { sampler, steps, guidance, guidanceRescale, seed, generatorKind, generator: createGenerator(generatorKind, seed) }
}

/** The kernels a pipeline loaded with `device` computes on. */
export function kernelsFor(device: DeviceRequest | undefined): Kernels {
  return getKernels(device ?? 'auto')
}

export function makeRecord(
  model: ModelFolder,
  modality: GenerationRecord['modality'],
  inputs: Record<string, unknown>,
  run: ResolvedRun,
): GenerationRecord {
  return {
    diffusekit: packageVersion(),
    modality,
    model: model.name,
    inputs,
    sampler: run.sampler.toJSON(),
    steps: run.steps,
    guidance: run.guidance,
    guidanceRescale: run.guidanceRescale,
    generator: run.generator.toJSON(),
  }
}

/** Turns a record back into generate() options (the modality inputs plus the common options). */
export function optionsFromRecord(record: unknown): Record<string, unknown> & CommonGenerateOptions {
  if (record === null || typeof record !== 'object') throw invalidArgument('record', 'a generation record object', record)
  const r = record as Partial<GenerationRecord>
  if (typeof r.inputs !== 'object' || r.inputs === null || typeof r.sampler !== 'object' || typeof r.generator !== 'object' || r.generator === null) {
    throw new DiffuseError('INVALID_ARGUMENT', 'A generation record needs "inputs", "sampler", "steps", "guidance" and "generator" fields')
  }
  return {
    ...r.inputs,
    sampler: r.sampler as SchedulerConfig,
    steps: r.steps as number,
    guidance: r.guidance as number,
    guidanceRescale: r.guidanceRescale ?? 0,
    seed: r.generator.seed,
    generator: r.generator.kind,
  }
}
