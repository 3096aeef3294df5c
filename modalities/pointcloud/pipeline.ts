import { Tensor } from 'onnxruntime-common'
import { sample } from '../../src/core/loop.js'
import type { StepProgress } from '../../src/core/loop.js'
import { DiffuseError, invalidArgument } from '../../src/errors.js'
import { createSampler } from '../../src/core/samplers/registry.js'
import type { SchedulerConfig } from '../../src/core/samplers/types.js'
import { readJsonObject } from '../../src/runtime/json-file.js'
import { readModelFolder, type ModelFolder } from '../../src/runtime/model-folder.js'
import { openUnet, type OnnxDenoiser } from '../../src/runtime/onnx-denoiser.js'
import { WorkerBackedPipeline } from '../../src/runtime/remote.js'
import { kernelsFor, makeRecord, optionsFromRecord, resolveRun, type CommonGenerateOptions, type GenerationRecord, type PipelineOptions } from '../../src/runtime/pipeline.js'
import { checkBoolean, checkString } from '../../src/validate.js'
import { PointCloud } from './cloud.js'
import type { PreviewFrame } from './html.js'

export interface PointCloudGenerateOptions extends CommonGenerateOptions {
  /** a class name of the model (see `classes`) */
  prompt: string
  /**
   * points in the result, 1..the model's `maxPoints`. A two-stage model (a shape-latent prior, then points
   * drawn independently given the latent: `shapes`) makes exactly this many, up to 16384 for `shapes`
   * (default 2048). A one-stage model always makes its full count and returns a uniform subset (its points
   * are exchangeable, so the first n are one); more than that count is refused.
   */
  points?: number
  /** record the sampler's clean-sample estimate (x0) at every model evaluation, for the HTML preview */
  trajectory?: boolean
}

/** What diffusekit.json says about a point-cloud model. */
interface CloudModelConfig {
  classes: string[]
  /** the default point count (a one-stage model's only one) */
  points: number
  /** the most points generate() makes: a two-stage model's points are independent given the latent */
  maxPoints: number
  channels: 3 | 6
  colorRange: [number, number]
  nullClassLabel: number
  /** two-stage models: the shape latent's shape (without the batch), e.g. [16, 16] */
  latentShape?: number[]
}

function readConfig(model: ModelFolder): CloudModelConfig {
  const c = model.config
  const where = `${model.root}/diffusekit.json`
  const classes = c.classes
  if (!Array.isArray(classes) || classes.length === 0 || classes.some((s) => typeof s !== 'string' || s === '')) {
    throw new DiffuseError('INVALID_CONFIG', `${where}: "classes" must be a non-empty list of names`)
  }
  const points = c.points
  if (typeof points !== 'number' || !Number.isInteger(points) || points < 1 || points > 1 << 20) {
    throw new DiffuseError('INVALID_CONFIG', `${where}: "points" must be a positive integer`)
  }
  const channels = c.channels ?? 6
  if (channels !== 3 && channels !== 6) throw new DiffuseError('INVALID_CONFIG', `${where}: "channels" must be 3 or 6`)
  const range = c.colorRange ?? [-1, 1]
  if (!Array.isArray(range) || range.length !== 2 || !range.every((v) => typeof v === 'number' && Number.isFinite(v)) || !(range[1] > range[0])) {
    throw new DiffuseError('INVALID_CONFIG', `${where}: "colorRange" must be [low, high] numbers`)
  }
  const nullLabel = c.nullClassLabel ?? classes.length
  if (typeof nullLabel !== 'number' || !Number.isInteger(nullLabel) || nullLabel < 0) {
    throw new DiffuseError('INVALID_CONFIG', `${where}: "nullClassLabel" must be a non-negative integer`)
  }
  const latent = c.latentShape
  if (latent !== undefined && (!Array.isArray(latent) || latent.length < 1 || !latent.every((v) => Number.isInteger(v) && v > 0 && v <= 4096))) {
    throw new DiffuseError('INVALID_CONFIG', `${where}: "latentShape" must be a list of positive integers`)
  }
  const maxPoints = c.maxPoints ?? points
  if (typeof maxPoints !== 'number' || !Number.isInteger(maxPoints) || maxPoints < points || maxPoints > 1 << 20 || (latent === undefined && maxPoints !== points)) {
    throw new DiffuseError('INVALID_CONFIG', `${where}: "maxPoints" must be an integer of at least "points" (and equal to it for a one-stage model)`)
  }
  return {
    classes: classes as string[],
    points,
    maxPoints,
    channels,
    colorRange: range as [number, number],
    nullClassLabel: nullLabel,
    ...(latent ? { latentShape: latent as number[] } : {}),
  }
}

/** A two-stage model's prior: its denoiser and its own scheduler config (prior_scheduler/). */
interface Prior {
  denoiser: OnnxDenoiser
  scheduler: SchedulerConfig
}

async function openPrior(model: ModelFolder, cfg: CloudModelConfig, options: PipelineOptions): Promise<Prior> {
  const file = model.file('prior')
  const schedulerFile = model.file('prior_scheduler')
  const scheduler = (await readJsonObject(schedulerFile)) as SchedulerConfig
  if (typeof scheduler._class_name !== 'string') throw new DiffuseError('INVALID_CONFIG', `${schedulerFile} has no "_class_name" string naming the scheduler class`)
  const denoiser = await openUnet(model, options, { inputs: ['class_labels'], what: 'the prior of a two-stage point-cloud model', component: 'prior', scheduler })
  const declared = denoiser.inputMetadata('sample')?.shape.slice(1)
  const want = cfg.latentShape!
  if (declared && (declared.length !== want.length || declared.some((d, i) => typeof d === 'number' && d !== want[i]))) {
    await denoiser.dispose()
    throw new DiffuseError('MODEL_IO', `${file} must take sample [B, ${want.join(', ')}] (diffusekit.json latentShape); it takes sample [B, ${declared.join(', ')}]`, {
      details: { file },
    })
  }
  return { denoiser, scheduler }
}

/**
 * A class-conditional point-cloud diffusion pipeline (the bundled `shapes` model or any folder in the
 * same layout): `generate({ prompt: 'chair', seed })` → PointCloud.
 */
export class PointCloudPipeline {
  readonly kind = 'pointcloud' as const
  readonly model: ModelFolder
  /** class names: the prompts this model knows */
  readonly classes: readonly string[]
  /** points per generated cloud (the model's) */
  readonly points: number
  /** the most points one generate() makes (`points` for a one-stage model) */
  readonly maxPoints: number
  private readonly cfg: CloudModelConfig
  private readonly options: PipelineOptions
  private denoiser: OnnxDenoiser | null
  private prior: Prior | null

  private constructor(model: ModelFolder, cfg: CloudModelConfig, denoiser: OnnxDenoiser, prior: Prior | null, options: PipelineOptions) {
    this.model = model
    this.cfg = cfg
    this.classes = Object.freeze([...cfg.classes])
    this.points = cfg.points
    this.maxPoints = cfg.maxPoints
    this.denoiser = denoiser
    this.prior = prior
    this.options = options
  }

  static async load(model: ModelFolder, options: PipelineOptions = {}): Promise<PointCloudPipeline> {
    const cfg = readConfig(model)
    if (!cfg.latentShape) {
      const denoiser = await openUnet(model, options, { inputs: ['class_labels'], what: 'a point-cloud model' })
      return new PointCloudPipeline(model, cfg, denoiser, null, options)
    }
    const prior = await openPrior(model, cfg, options)
    try {
      const denoiser = await openUnet(model, options, { inputs: ['shape_latent'], what: 'the point decoder of a two-stage point-cloud model' })
      return new PointCloudPipeline(model, cfg, denoiser, prior, options)
    } catch (e) {
      await prior.denoiser.dispose()
      throw e
    }
  }

  /** whether this model draws a shape latent first (a prior) and then independent points given it */
  get twoStage(): boolean {
    return this.cfg.latentShape !== undefined
  }

  private live(): OnnxDenoiser {
    if (!this.denoiser) throw new DiffuseError('DISPOSED', `The ${this.model.name} pipeline was disposed`)
    return this.denoiser
  }

  /** The class id of a prompt; an unknown one is DiffuseError('UNKNOWN_CLASS') listing the known ones. */
  classId(prompt: unknown): number {
    const name = checkString('prompt', prompt, { nonEmpty: true }).trim().toLowerCase()
    const id = this.cfg.classes.findIndex((c) => c.toLowerCase() === name)
    if (id < 0) {
      throw new DiffuseError('UNKNOWN_CLASS', `Unknown class ${JSON.stringify(prompt)} for model ${this.model.name}; known classes: ${this.cfg.classes.join(', ')}`, {
        details: { prompt, classes: [...this.cfg.classes] },
      })
    }
    return id
  }

  /** Generates one cloud. Pass a previous cloud's `record` to reproduce it exactly. */
  async generate(options: PointCloudGenerateOptions | GenerationRecord): Promise<PointCloud> {
    if (options === null || typeof options !== 'object') throw invalidArgument('options', 'an object with a prompt', options)
    const opts = ('diffusekit' in options && 'inputs' in options ? optionsFromRecord(options) : options) as PointCloudGenerateOptions
    const classId = this.classId(opts.prompt)
    const points = opts.points ?? this.points
    const max = this.cfg.maxPoints
    if (typeof points !== 'number' || !Number.isInteger(points) || points < 1 || points > max) {
      throw new DiffuseError('INVALID_ARGUMENT', `Expected points to be an integer in [1, ${max}] (the most this model makes per cloud) but received ${typeof points === 'number' ? points : typeof points}`, {
        details: { argument: 'points', max },
      })
    }
    const trajectory = opts.trajectory === undefined ? false : checkBoolean('trajectory', opts.trajectory)
    const run = resolveRun(this.model, opts)
    const denoiser = this.live()
    const { channels, colorRange, nullClassLabel } = this.cfg
    const guided = run.guidance !== 1
    const classInput = (id: number) => ({ class_labels: new Tensor('int64', BigInt64Array.of(BigInt(id)), [1]) })
    const kernels = kernelsFor(this.options.device)
    const common = { steps: run.steps, generator: run.generator, kernels, ...(opts.signal ? { signal: opts.signal } : {}) }
    let n = this.points
    let conditioning: Record<string, Tensor>
    let guidance: { unconditional?: Record<string, Tensor>; guidanceScale: number; guidanceRescale: number }
    let progress = opts.onProgress ? (p: StepProgress) => opts.onProgress!(p) : undefined
    if (this.cfg.latentShape) {
      // stage 1: the shape latent from the class (classifier-free guidance acts here); stage 2: the points given it
      if (!this.prior) throw new DiffuseError('DISPOSED', `The ${this.model.name} pipeline was disposed`)
      const shape = [1, ...this.cfg.latentShape]
      const priorSampler = createSampler(run.sampler.toJSON()._class_name, this.prior.scheduler)
      const priorEvals = priorSampler.plan(run.steps).timesteps.length
      const total = priorEvals + run.sampler.plan(run.steps).timesteps.length
      const onProgress = opts.onProgress
      const z = await sample({
        ...common,
        denoiser: this.prior.denoiser,
        sampler: priorSampler,
        shape,
        conditioning: classInput(classId),
        ...(guided ? { unconditional: classInput(nullClassLabel) } : {}),
        guidanceScale: run.guidance,
        guidanceRescale: run.guidanceRescale,
        ...(onProgress ? { onStep: (p: StepProgress) => onProgress({ ...p, total }) } : {}),
      })
      progress = onProgress ? (p: StepProgress) => onProgress({ ...p, step: priorEvals + p.step, total }) : undefined
      n = points
      conditioning = { shape_latent: new Tensor('float32', z.sample, shape) }
      guidance = { guidanceScale: 1, guidanceRescale: 0 }
    } else {
      conditioning = classInput(classId)
      guidance = { ...(guided ? { unconditional: classInput(nullClassLabel) } : {}), guidanceScale: run.guidance, guidanceRescale: run.guidanceRescale }
    }
    const result = await sample({
      ...common,
      denoiser,
      sampler: run.sampler,
      shape: [1, channels, n],
      conditioning,
      ...guidance,
      trajectory,
      ...(progress ? { onStep: progress } : {}),
    })
    const full = PointCloud.fromChannels(result.sample, channels, n, { colorRange })
    const frames: PreviewFrame[] | undefined = result.trajectory?.map((x0) => {
      const c = PointCloud.fromChannels(x0, channels, n, { colorRange })
      return { positions: c.positions.subarray(0, 3 * points), ...(c.colors ? { colors: c.colors.subarray(0, 3 * points) } : {}) }
    })
    const record = makeRecord(this.model, 'pointcloud', { prompt: this.cfg.classes[classId], points }, run)
    return new PointCloud(full.positions.subarray(0, 3 * points), full.colors?.subarray(0, 3 * points), {
      ...(frames ? { trajectory: frames } : {}),
      record,
    })
  }

  async dispose(): Promise<void> {
    const d = this.denoiser
    const p = this.prior
    this.denoiser = null
    this.prior = null
    await d?.dispose()
    await p?.denoiser.dispose()
  }
}

/**
 * Loads a point-cloud pipeline: a bundled model by name ('shapes') or a model folder by path
 * (diffusekit.json modality "pointcloud").
 */
export async function loadPipeline(nameOrPath: string, options: PipelineOptions & { workers: true }): Promise<PointCloudWorkerPipeline>
export async function loadPipeline(nameOrPath: string, options?: PipelineOptions): Promise<PointCloudPipeline>
export async function loadPipeline(nameOrPath: string, options: PipelineOptions = {}): Promise<PointCloudPipeline | PointCloudWorkerPipeline> {
  const model = await readModelFolder(nameOrPath)
  if (model.config.modality !== 'pointcloud') {
    throw new DiffuseError('UNSUPPORTED', `${model.root} is not a point-cloud model (diffusekit.json modality: ${JSON.stringify(model.config.modality ?? null)})`)
  }
  if (options.workers) {
    return new WorkerBackedPipeline(new URL('./worker.js', import.meta.url).href, model.root, options, (v) => {
      const c = v as { positions: Float32Array; colors?: Float32Array; trajectory?: PreviewFrame[]; record: GenerationRecord }
      return new PointCloud(c.positions, c.colors, { ...(c.trajectory ? { trajectory: c.trajectory } : {}), record: c.record })
    })
  }
  return PointCloudPipeline.load(model, options)
}

/** A point-cloud pipeline whose generations run in worker threads (`loadPipeline(name, { workers: true })`). */
export type PointCloudWorkerPipeline = WorkerBackedPipeline<PointCloudGenerateOptions | GenerationRecord, PointCloud>
