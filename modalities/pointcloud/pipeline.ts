import { Tensor } from 'onnxruntime-common'
import { sample } from '../../src/core/loop.js'
import type { StepProgress } from '../../src/core/loop.js'
import { DiffuseError, invalidArgument } from '../../src/errors.js'
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
   * points in the result, 1..the model's point count (2048 for `shapes`). The model always makes its
   * full count; fewer points are a uniform subset (the model's points are exchangeable, so the first n
   * are one). More than the model makes is refused: the model was trained at one density.
   */
  points?: number
  /** record the sampler's clean-sample estimate (x0) at every model evaluation, for the HTML preview */
  trajectory?: boolean
}

/** What diffusekit.json says about a point-cloud model. */
interface CloudModelConfig {
  classes: string[]
  points: number
  channels: 3 | 6
  colorRange: [number, number]
  nullClassLabel: number
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
  return { classes: classes as string[], points, channels, colorRange: range as [number, number], nullClassLabel: nullLabel }
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
  private readonly cfg: CloudModelConfig
  private readonly options: PipelineOptions
  private denoiser: OnnxDenoiser | null

  private constructor(model: ModelFolder, cfg: CloudModelConfig, denoiser: OnnxDenoiser, options: PipelineOptions) {
    this.model = model
    this.cfg = cfg
    this.classes = Object.freeze([...cfg.classes])
    this.points = cfg.points
    this.denoiser = denoiser
    this.options = options
  }

  static async load(model: ModelFolder, options: PipelineOptions = {}): Promise<PointCloudPipeline> {
    const cfg = readConfig(model)
    const denoiser = await openUnet(model, options, { inputs: ['class_labels'], what: 'a point-cloud model' })
    return new PointCloudPipeline(model, cfg, denoiser, options)
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
    if (typeof points !== 'number' || !Number.isInteger(points) || points < 1 || points > this.points) {
      throw new DiffuseError('INVALID_ARGUMENT', `Expected points to be an integer in [1, ${this.points}] (this model makes ${this.points} points per cloud) but received ${typeof points === 'number' ? points : typeof points}`, {
        details: { argument: 'points', max: this.points },
      })
    }
    const trajectory = opts.trajectory === undefined ? false : checkBoolean('trajectory', opts.trajectory)
    const run = resolveRun(this.model, opts)
    const denoiser = this.live()
    const { channels, colorRange, nullClassLabel } = this.cfg
    const n = this.points
    const guided = run.guidance !== 1
    const result = await sample({
      denoiser,
      sampler: run.sampler,
      steps: run.steps,
      shape: [1, channels, n],
      generator: run.generator,
      conditioning: { class_labels: new Tensor('int64', BigInt64Array.of(BigInt(classId)), [1]) },
      ...(guided ? { unconditional: { class_labels: new Tensor('int64', BigInt64Array.of(BigInt(nullClassLabel)), [1]) } } : {}),
      guidanceScale: run.guidance,
      guidanceRescale: run.guidanceRescale,
      kernels: kernelsFor(this.options.device),
      trajectory,
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onProgress ? { onStep: (p: StepProgress) => opts.onProgress!(p) } : {}),
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
    this.denoiser = null
    await d?.dispose()
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
