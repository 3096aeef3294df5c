import { Tensor } from 'onnxruntime-common'
import { DiffuseError } from '../errors.js'
import type { Conditioning, Denoiser } from '../core/denoiser.js'
import type { PredictionType } from '../native/kernels.js'
import type { ComponentName, ModelFolder } from './model-folder.js'
import type { SchedulerConfig } from '../core/samplers/types.js'
import { createSession, inputMetadata, type InferenceSession, type SessionOptions } from './onnx.js'

export interface OnnxDenoiserOptions extends SessionOptions {
  predictionType?: PredictionType
  /** largest batch to send in one run (guidance halves go separately beyond it) */
  maxBatch?: number
}

const SAMPLE_NAMES = ['sample', 'x', 'latent_sample']
const TIMESTEP_NAMES = ['timestep', 't', 'timesteps']

/**
 * A denoiser backed by an ONNX unet with the diffusers/Optimum interface:
 * (sample, timestep, ...conditioning) -> out_sample. The timestep's form (int64 [B], float32 [B] or a
 * float32 scalar) is read from the graph, so both published export variants run unchanged.
 */
export class OnnxDenoiser implements Denoiser {
  readonly predictionType?: PredictionType
  readonly maxBatch?: number
  readonly file: string
  private session: InferenceSession | null
  private readonly sampleName: string
  private readonly timestepName: string
  private readonly outputName: string

  private constructor(file: string, session: InferenceSession, options: OnnxDenoiserOptions) {
    this.file = file
    this.session = session
    if (options.predictionType) this.predictionType = options.predictionType
    if (options.maxBatch) this.maxBatch = options.maxBatch
    const inputs = session.inputNames
    const sampleName = SAMPLE_NAMES.find((n) => inputs.includes(n))
    const timestepName = TIMESTEP_NAMES.find((n) => inputs.includes(n))
    if (!sampleName || !timestepName) {
      throw new DiffuseError(
        'MODEL_IO',
        `${file} does not have the unet interface: expected inputs "sample" and "timestep", found [${inputs.join(', ')}]`,
        { details: { file, inputs } },
      )
    }
    this.sampleName = sampleName
    this.timestepName = timestepName
    this.outputName = session.outputNames.includes('out_sample') ? 'out_sample' : session.outputNames[0]!
  }

  static async create(file: string, options: OnnxDenoiserOptions = {}): Promise<OnnxDenoiser> {
    const session = await createSession(file, options)
    try {
      return new OnnxDenoiser(file, session, options)
    } catch (e) {
      await session.release()
      throw e
    }
  }

  /** names of the conditioning inputs the graph expects besides sample and timestep */
  get conditioningInputs(): string[] {
    return this.live().inputNames.filter((n) => n !== this.sampleName && n !== this.timestepName)
  }

  /** the graph's metadata for one input (type and shape), e.g. to check channel counts up front */
  inputMetadata(name: string): ReturnType<typeof inputMetadata> {
    return inputMetadata(this.live(), name)
  }

  private live(): InferenceSession {
    if (!this.session) throw new DiffuseError('DISPOSED', `The denoiser for ${this.file} was disposed`)
    return this.session
  }

  private timestepTensor(t: number, batch: number): Tensor {
    const meta = inputMetadata(this.live(), this.timestepName)
    const type = meta?.type ?? 'float32'
    const scalar = meta !== undefined && meta.shape.length === 0
    if (type === 'int64') {
      const v = BigInt(Math.round(t))
      return scalar ? new Tensor('int64', BigInt64Array.of(v), []) : new Tensor('int64', new BigInt64Array(batch).fill(v), [batch])
    }
    if (type === 'int32') {
      const v = Math.round(t)
      return scalar ? new Tensor('int32', Int32Array.of(v), []) : new Tensor('int32', new Int32Array(batch).fill(v), [batch])
    }
    if (type === 'float32') return scalar ? new Tensor('float32', Float32Array.of(t), []) : new Tensor('float32', new Float32Array(batch).fill(t), [batch])
    throw new DiffuseError('MODEL_IO', `${this.file}: timestep input of type ${type} is not supported (int64, int32 or float32)`)
  }

  async predict(sample: Tensor, timestep: number, conditioning: Conditioning): Promise<Tensor> {
    const session = this.live()
    const feeds: Record<string, Tensor> = {
      [this.sampleName]: sample,
      [this.timestepName]: this.timestepTensor(timestep, sample.dims[0] ?? 1),
    }
    for (const name of session.inputNames) {
      if (name in feeds) continue
      const c = conditioning[name]
      if (!c) {
        throw new DiffuseError('MODEL_IO', `${this.file} needs the input "${name}", which the caller did not provide (given: [${Object.keys(conditioning).join(', ')}])`, {
          details: { file: this.file, missing: name },
        })
      }
      feeds[name] = c
    }
    let out: Record<string, Tensor>
    try {
      out = (await session.run(feeds, [this.outputName])) as Record<string, Tensor>
    } catch (e) {
      throw new DiffuseError('MODEL_IO', `Running ${this.file} failed: ${(e as Error).message}`, { cause: e, details: { file: this.file } })
    }
    return out[this.outputName]!
  }

  async dispose(): Promise<void> {
    const s = this.session
    this.session = null
    if (s) await s.release()
  }
}

/**
 * A model folder's unet (or another denoiser component, e.g. a two-stage model's prior) as a denoiser:
 * prediction type from its scheduler config, session options from the pipeline's, and a clear MODEL_IO
 * error when a conditioning input the modality needs is missing.
 */
export async function openUnet(
  model: ModelFolder,
  options: SessionOptions,
  requirement: { inputs: readonly string[]; what: string; component?: ComponentName; scheduler?: Readonly<SchedulerConfig> | null },
): Promise<OnnxDenoiser> {
  const file = model.file(requirement.component ?? 'unet')
  const prediction = (requirement.scheduler === undefined ? model.scheduler : requirement.scheduler)?.prediction_type
  const denoiser = await OnnxDenoiser.create(file, {
    ...(options.device ? { device: options.device } : {}),
    ...(options.threads ? { threads: options.threads } : {}),
    ...(prediction === 'epsilon' || prediction === 'v_prediction' || prediction === 'sample' ? { predictionType: prediction } : {}),
  })
  const missing = requirement.inputs.filter((n) => !denoiser.conditioningInputs.includes(n))
  if (missing.length > 0) {
    await denoiser.dispose()
    throw new DiffuseError('MODEL_IO', `${file} has no ${missing.map((m) => `"${m}"`).join(', ')} input; ${requirement.what} takes (sample, timestep, ${requirement.inputs.join(', ')})`, {
      details: { file, missing },
    })
  }
  return denoiser
}
