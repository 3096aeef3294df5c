import { existsSync } from 'node:fs'
import { dirname, extname, basename, join } from 'node:path'
import { Tensor } from 'onnxruntime-common'
import { DiffuseError, invalidArgument } from '../../src/errors.js'
import { sample as runSampler } from '../../src/core/loop.js'
import { createGenerator } from '../../src/core/rng/index.js'
import type { Generator } from '../../src/core/rng/types.js'
import { checkInteger, checkNumber } from '../../src/validate.js'
import { readModelFolder, type ModelFolder } from '../../src/runtime/model-folder.js'
import { OnnxDenoiser } from '../../src/runtime/onnx-denoiser.js'
import { inputMetadata } from '../../src/runtime/onnx.js'
import { readJsonObject } from '../../src/runtime/json-file.js'
import { WorkerBackedPipeline } from '../../src/runtime/remote.js'
import {
  kernelsFor,
  makeRecord,
  optionsFromRecord,
  resolveRun,
  type CommonGenerateOptions,
  type GenerationRecord,
  type PipelineOptions,
} from '../../src/runtime/pipeline.js'
import { OnnxTextEncoder } from '../../src/runtime/text-encoder.js'
import { ClipTokenizer } from '../../src/runtime/tokenizer.js'
import { OnnxVaeDecoder, OnnxVaeEncoder, readVaeConfig, type VaeConfig } from '../../src/runtime/vae.js'
import { perImageGenerator } from './generators.js'
import { checkRgbImage, readPng, writePng, type RgbImage } from './png.js'
import { imageToTensor, latentMask, tensorToImages } from './convert.js'

/** An image given as pixels or as a PNG file path. */
export type ImageInput = RgbImage | string

export interface ImageGenerateOptions extends CommonGenerateOptions {
  /**
   * What to draw. An empty string is allowed and means an unconditional sample (the model's
   * "empty caption", as the guidance branch uses). Prompts longer than the tokenizer's length are
   * truncated with a warning. An array gives one prompt per image (its length is the batch).
   */
  prompt: string | readonly string[]
  /** what to steer away from (the unconditional branch of guidance); default '' */
  negativePrompt?: string | readonly string[]
  /** pixels; multiples of 8 and of the VAE's factor (default: diffusekit.json's, else unet sample_size × VAE factor) */
  width?: number
  height?: number
  /** images in one run (default 1); image i uses seed + i (or seeds[i]) */
  batch?: number
  /** explicit per-image seeds (overrides seed and batch) */
  seeds?: readonly number[]
  /** img2img: start from this picture, noised to `strength` ∈ (0, 1] (1 = ignore it, 0 = keep it) */
  init?: { image: ImageInput; strength?: number }
  /** inpainting (needs init): white where the image is regenerated, black where init is kept */
  mask?: ImageInput
}

/** What generate() returns: the images, and what reproduces them. */
export interface ImageResult {
  readonly images: readonly RgbImage[]
  readonly width: number
  readonly height: number
  readonly seeds: readonly number[]
  /** reproduces this result: `generate(record)` */
  readonly record: GenerationRecord
  /** prompt truncation and similar notes (also emitted as process warnings) */
  readonly warnings: readonly string[]
  /** the final diffusion latents [B, C, h, w] */
  readonly latents: Float32Array
  /**
   * Writes the images as 8-bit RGB PNGs (atomically). One image: `path`; a batch: `name-1.png` …
   * `name-N.png` beside it. Returns the paths written.
   */
  save(path: string): Promise<string[]>
}

interface Loaded {
  model: ModelFolder
  tokenizer: ClipTokenizer
  textEncoder: OnnxTextEncoder
  unet: OnnxDenoiser
  vaeDecoder: OnnxVaeDecoder
  vaeConfig: VaeConfig
  latentChannels: number
  unetSampleSize: number | undefined
}

/**
 * A latent text-to-image pipeline over a Stable Diffusion ONNX folder (Optimum or diffusers layout)
 * or a bundled model such as 'emoji': tokenizer -> text encoder -> unet sampling loop (any sampler of
 * the registry, guidance halves in one batch) -> VAE decoder.
 */
export class ImagePipeline {
  readonly model: ModelFolder
  readonly tokenizer: ClipTokenizer
  readonly vae: VaeConfig
  readonly defaultWidth: number
  readonly defaultHeight: number
  /** sizes must be multiples of this (8, the VAE factor, and the model's own constraint) */
  readonly sizeMultiple: number
  private readonly textEncoder: OnnxTextEncoder
  private readonly unet: OnnxDenoiser
  private readonly vaeDecoder: OnnxVaeDecoder
  private vaeEncoder: OnnxVaeEncoder | null = null
  private readonly latentChannels: number
  private readonly options: PipelineOptions
  private disposed = false

  private constructor(l: Loaded, options: PipelineOptions) {
    this.model = l.model
    this.tokenizer = l.tokenizer
    this.textEncoder = l.textEncoder
    this.unet = l.unet
    this.vaeDecoder = l.vaeDecoder
    this.vae = l.vaeConfig
    this.latentChannels = l.latentChannels
    this.options = options
    const d = l.model.config.defaults as { width?: unknown; height?: unknown } | undefined
    const own = l.model.config.sizeMultiple
    this.sizeMultiple = lcm(lcm(8, l.vaeConfig.spatialFactor), typeof own === 'number' && Number.isInteger(own) && own > 0 ? own : 1)
    const sampleSize = (n: unknown) => (typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : undefined)
    // diffusers' default: unet sample_size × VAE factor (SD 1.x: 64 × 8 = 512, SD 2.x: 96 × 8 = 768)
    const fromUnet = l.unetSampleSize !== undefined ? l.unetSampleSize * l.vaeConfig.spatialFactor : 512
    this.defaultWidth = sampleSize(d?.width) ?? fromUnet
    this.defaultHeight = sampleSize(d?.height) ?? fromUnet
  }

  static async load(nameOrPath: string | ModelFolder, options: PipelineOptions = {}): Promise<ImagePipeline> {
    const model = typeof nameOrPath === 'string' ? await readModelFolder(nameOrPath) : nameOrPath
    if (model.config.modality !== undefined && model.config.modality !== 'image') {
      throw new DiffuseError('UNSUPPORTED', `${model.root} is a ${model.config.modality} model, not an image model (diffusekit.json "modality")`)
    }
    // each missing part gets an error naming the file it looked for
    const tokDir = join(model.root, 'tokenizer')
    if (!model.has('tokenizer')) model.file('tokenizer', 'vocab.json')
    const teFile = model.file('text_encoder')
    const unetFile = model.file('unet')
    const decFile = model.file('vae_decoder')
    model.file('scheduler')
    const session = { ...(options.device ? { device: options.device } : {}), ...(options.threads ? { threads: options.threads } : {}) }
    const vaeConfig = await readVaeConfig(model.root)
    const opened: { dispose(): Promise<void> }[] = []
    try {
      const textEncoder = await OnnxTextEncoder.create(teFile, session)
      opened.push(textEncoder)
      const tokenizer = await ClipTokenizer.fromFolder(tokDir, textEncoder.sequenceLength ? { maxLength: textEncoder.sequenceLength } : {})
      const predictionType = model.scheduler?.prediction_type
      const unet = await OnnxDenoiser.create(unetFile, {
        ...session,
        ...(predictionType === 'epsilon' || predictionType === 'v_prediction' || predictionType === 'sample' ? { predictionType } : {}),
      })
      opened.push(unet)
      if (!unet.conditioningInputs.includes('encoder_hidden_states')) {
        throw new DiffuseError('MODEL_IO', `${unetFile} has no "encoder_hidden_states" input (inputs: sample, timestep, ${unet.conditioningInputs.join(', ')}); a text-to-image unet takes the text encoder's output there`, {
          details: { file: unetFile },
        })
      }
      const extra = unet.conditioningInputs.filter((n) => n !== 'encoder_hidden_states')
      if (extra.length > 0) {
        throw new DiffuseError('UNSUPPORTED', `${unetFile} needs inputs this pipeline does not provide: ${extra.join(', ')} (SDXL-style added conditioning is not supported)`, {
          details: { file: unetFile },
        })
      }
      // OnnxDenoiser keeps its session private; its input metadata gives clear compatibility errors here
      const unetSession = (unet as unknown as { session?: import('../../src/runtime/onnx.js').InferenceSession }).session
      const sampleMeta = unetSession?.inputMetadata ? inputMetadata(unetSession, 'sample') : undefined
      const ehsMeta = unetSession?.inputMetadata ? inputMetadata(unetSession, 'encoder_hidden_states') : undefined
      const channels = sampleMeta?.shape[1]
      const latentChannels = typeof channels === 'number' ? channels : vaeConfig.latentChannels
      if (latentChannels !== vaeConfig.latentChannels) {
        throw new DiffuseError(
          latentChannels === 2 * vaeConfig.latentChannels + 1 ? 'UNSUPPORTED' : 'MODEL_IO',
          latentChannels === 2 * vaeConfig.latentChannels + 1
            ? `${unetFile} is an inpainting unet (${latentChannels} input channels: latents, mask, masked image); this pipeline runs ${vaeConfig.latentChannels}-channel unets (inpainting by latent blending)`
            : `${unetFile} takes ${latentChannels} latent channels but the VAE has ${vaeConfig.latentChannels} (latent_channels in vae_decoder/config.json)`,
          { details: { file: unetFile } },
        )
      }
      const dim = ehsMeta?.shape[2]
      if (typeof dim === 'number' && textEncoder.hiddenSize !== undefined && dim !== textEncoder.hiddenSize) {
        throw new DiffuseError('MODEL_IO', `${unetFile} expects encoder_hidden_states of width ${dim} but ${teFile} outputs ${textEncoder.hiddenSize}`, {
          details: { file: unetFile },
        })
      }
      const vaeDecoder = await OnnxVaeDecoder.create(decFile, vaeConfig, session)
      opened.push(vaeDecoder)
      const unetConfigFile = join(model.root, 'unet', 'config.json')
      const unetConfig = existsSync(unetConfigFile) ? await readJsonObject(unetConfigFile) : {}
      const ss = unetConfig.sample_size
      const unetSampleSize = typeof ss === 'number' && Number.isInteger(ss) && ss > 0 ? ss : undefined
      return new ImagePipeline({ model, tokenizer, textEncoder, unet, vaeDecoder, vaeConfig, latentChannels, unetSampleSize }, options)
    } catch (e) {
      for (const o of opened) await o.dispose().catch(() => undefined)
      throw e
    }
  }

  private live(): void {
    if (this.disposed) throw new DiffuseError('DISPOSED', `The image pipeline for ${this.model.name} was disposed`)
  }

  private async encoder(): Promise<OnnxVaeEncoder> {
    if (this.vaeEncoder) return this.vaeEncoder
    const file = this.model.file('vae_encoder')
    const session = { ...(this.options.device ? { device: this.options.device } : {}), ...(this.options.threads ? { threads: this.options.threads } : {}) }
    this.vaeEncoder = await OnnxVaeEncoder.create(file, this.vae, session)
    return this.vaeEncoder
  }

  /** Text embeddings [B, L, D] for prompts, in one text-encoder batch. */
  async encodePrompts(prompts: readonly string[], warnings: string[] = []): Promise<Tensor> {
    this.live()
    const rows = prompts.map((p) => {
      const t = this.tokenizer.encode(p)
      if (t.truncated) {
        const msg = `Prompt truncated to the model's ${this.tokenizer.maxLength} tokens (it has ${t.tokenCount + 2}): ${JSON.stringify(p.length > 80 ? p.slice(0, 80) + '…' : p)}`
        if (!warnings.includes(msg)) warnings.push(msg)
      }
      return t.ids
    })
    return this.textEncoder.encode(rows)
  }

  /** Generates images. Passing a previous result's `record` reproduces it. */
  async generate(options: ImageGenerateOptions | GenerationRecord): Promise<ImageResult> {
    this.live()
    const o = (isRecord(options) ? optionsFromRecord(options) : options) as ImageGenerateOptions
    if (o === null || typeof o !== 'object') throw invalidArgument('options', 'an object', o)
    const warnings: string[] = []

    // ---- prompts and batch
    let seedsGiven: number[] | undefined
    if (o.seeds !== undefined) {
      if (!Array.isArray(o.seeds) || o.seeds.length === 0) throw invalidArgument('seeds', 'a non-empty array of integer seeds', o.seeds)
      seedsGiven = o.seeds.map((s, i) => checkInteger(`seeds[${i}]`, s, 0, Number.MAX_SAFE_INTEGER))
    }
    const promptList = toPromptList('prompt', o.prompt)
    let batch = o.batch === undefined ? undefined : checkInteger('batch', o.batch, 1, 64)
    batch ??= seedsGiven?.length ?? (promptList.length > 1 ? promptList.length : 1)
    if (seedsGiven && seedsGiven.length !== batch) throw invalidArgument('seeds', `an array of ${batch} seeds (one per image)`, o.seeds)
    const prompts = broadcast('prompt', promptList, batch)
    const negatives = broadcast('negativePrompt', o.negativePrompt === undefined ? [''] : toPromptList('negativePrompt', o.negativePrompt), batch)

    // ---- init image, mask and size
    let initImage: RgbImage | undefined
    let strength = 1
    if (o.init !== undefined) {
      if (o.init === null || typeof o.init !== 'object') throw invalidArgument('init', 'an object { image, strength }', o.init)
      initImage = await loadImage('init.image', o.init.image)
      strength = o.init.strength === undefined ? 0.8 : checkNumber('init.strength', o.init.strength, 0, 1)
      if (strength === 0) throw invalidArgument('init.strength', 'a number in (0, 1] (0 would return the init image unchanged)', 0)
    }
    let maskImage: RgbImage | undefined
    if (o.mask !== undefined) {
      if (!initImage) throw new DiffuseError('INVALID_ARGUMENT', 'A mask needs an init image: pass init: { image } with the picture to inpaint')
      maskImage = await loadImage('mask', o.mask)
    }
    const width = checkSize('width', o.width ?? initImage?.width ?? this.defaultWidth, this.sizeMultiple)
    const height = checkSize('height', o.height ?? initImage?.height ?? this.defaultHeight, this.sizeMultiple)
    for (const [name, img] of [['init.image', initImage], ['mask', maskImage]] as const) {
      if (img && (img.width !== width || img.height !== height)) {
        throw new DiffuseError('INVALID_ARGUMENT', `Expected ${name} to be ${width}x${height} (the output size) but received ${img.width}x${img.height}`, {
          details: { argument: name },
        })
      }
    }

    // ---- run settings (sampler, steps, guidance, generator kind, base seed)
    // a plain Optimum export has no diffusekit.json: diffusers' StableDiffusionPipeline defaults then
    const d = this.model.config.defaults ?? {}
    const run = resolveRun(this.model, {
      ...o,
      ...(o.steps === undefined && d.steps === undefined ? { steps: 50 } : {}),
      ...(o.guidance === undefined && d.guidance === undefined ? { guidance: 7.5 } : {}),
      ...(seedsGiven ? { seed: seedsGiven[0] } : {}),
    })
    const seeds = seedsGiven ?? Array.from({ length: batch }, (_, i) => run.seed + i)
    const generators: Generator[] = seeds.map((s) => createGenerator(run.generatorKind, s))
    const generator = perImageGenerator(generators)
    const f = this.vae.spatialFactor
    const shape = [batch, this.latentChannels, height / f, width / f]

    // ---- text: negative and positive prompts through the encoder in one batch
    const guided = run.guidance > 1
    const hidden = await this.encodePrompts(guided ? [...negatives, ...prompts] : prompts, warnings)
    const [, L, D] = hidden.dims as [number, number, number]
    const per = L * D
    const hdata = hidden.data as Float32Array
    const cond = { encoder_hidden_states: new Tensor('float32', hdata.slice(guided ? batch * per : 0, (guided ? 2 : 1) * batch * per), [batch, L, D]) }
    const uncond = guided ? { encoder_hidden_states: new Tensor('float32', hdata.slice(0, batch * per), [batch, L, D]) } : undefined

    // ---- img2img / inpainting latents (the posterior draw comes before the noise, as in diffusers)
    let init: { sample: Float32Array; strength: number } | undefined
    let inpaint: { original: Float32Array; mask: Float32Array } | undefined
    if (initImage) {
      const enc = await this.encoder()
      const one = imageToTensor(initImage)
      const images = new Float32Array(one.length * batch)
      for (let b = 0; b < batch; b++) images.set(one, b * one.length)
      const z = await enc.encode(images, [batch, 3, height, width], generators)
      if (z.shape[2] !== shape[2] || z.shape[3] !== shape[3]) {
        throw new DiffuseError('SHAPE_MISMATCH', `${enc.file} encoded ${width}x${height} to [${z.shape.join(', ')}]; expected [${shape.join(', ')}]`)
      }
      if (maskImage) {
        const m = latentMask(maskImage, shape[2]!, shape[3]!)
        const full = new Float32Array(z.data.length)
        const plane = shape[2]! * shape[3]!
        for (let i = 0; i < full.length; i++) full[i] = m[i % plane]!
        inpaint = { original: z.data, mask: full }
      }
      if (strength < 1 || !maskImage) init = { sample: z.data, strength }
    }

    const kernels = kernelsFor(this.options.device)
    const result = await runSampler({
      denoiser: this.unet,
      sampler: run.sampler,
      steps: run.steps,
      shape,
      generator,
      conditioning: cond,
      ...(uncond ? { unconditional: uncond, guidanceScale: run.guidance, guidanceRescale: run.guidanceRescale } : {}),
      kernels,
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.onProgress ? { onStep: o.onProgress } : {}),
      ...(init ? { init } : {}),
      ...(inpaint ? { inpaint } : {}),
    })
    const decoded = await this.vaeDecoder.decode(result.sample, shape)
    if (decoded.shape[2] !== height || decoded.shape[3] !== width) {
      throw new DiffuseError('SHAPE_MISMATCH', `${this.vaeDecoder.file} decoded to [${decoded.shape.join(', ')}]; expected [${batch}, 3, ${height}, ${width}]`)
    }
    const images = tensorToImages(decoded.data, batch, height, width)
    for (const w of warnings) process.emitWarning(w, { code: 'DIFFUSEKIT_PROMPT_TRUNCATED' })

    const inputs: Record<string, unknown> = {
      prompt: o.prompt,
      negativePrompt: o.negativePrompt ?? '',
      width,
      height,
      ...(seedsGiven || batch > 1 ? { seeds } : {}),
      ...(typeof o.init?.image === 'string' ? { init: { image: o.init.image, strength } } : {}),
      ...(typeof o.mask === 'string' ? { mask: o.mask } : {}),
    }
    const record = makeRecord(this.model, 'image', inputs, { ...run, generator: generators[0]!.fresh() })
    return imageResult({ images, width, height, seeds, record, warnings, latents: result.sample })
  }

  async dispose(): Promise<void> {
    if (this.disposed) return
    this.disposed = true
    await this.textEncoder.dispose()
    await this.unet.dispose()
    await this.vaeDecoder.dispose()
    await this.vaeEncoder?.dispose()
  }
}

/** Loads a bundled image model ('emoji') or a Stable Diffusion ONNX folder. */
/** An ImageResult around generated data (also how results from worker threads are revived). */
export function imageResult(data: Omit<ImageResult, 'save'>): ImageResult {
  const { images } = data
  return {
    ...data,
    async save(path: string): Promise<string[]> {
      const paths = images.length === 1 ? [path] : images.map((_, i) => numbered(path, i + 1))
      for (let i = 0; i < images.length; i++) await writePng(paths[i]!, images[i]!)
      return paths
    },
  }
}

/** An image pipeline whose generations run in worker threads (`loadPipeline(name, { workers: true })`). */
export type ImageWorkerPipeline = WorkerBackedPipeline<ImageGenerateOptions | GenerationRecord, ImageResult>

/**
 * Loads an image pipeline: 'emoji' (bundled) or a folder in the diffusers/Optimum ONNX layout. With
 * `workers: true` generations run in worker threads (same options and results).
 */
export async function loadPipeline(nameOrPath: string, options: PipelineOptions & { workers: true }): Promise<ImageWorkerPipeline>
export async function loadPipeline(nameOrPath: string, options?: PipelineOptions): Promise<ImagePipeline>
export async function loadPipeline(nameOrPath: string, options: PipelineOptions = {}): Promise<ImagePipeline | ImageWorkerPipeline> {
  if (options.workers) {
    const model = await readModelFolder(nameOrPath)
    return new WorkerBackedPipeline(new URL('./worker.js', import.meta.url).href, model.root, options, (v) => imageResult(v as Omit<ImageResult, 'save'>))
  }
  return ImagePipeline.load(nameOrPath, options)
}

function isRecord(o: unknown): o is GenerationRecord {
  return !!o && typeof o === 'object' && 'inputs' in o && 'generator' in o && 'sampler' in o && 'diffusekit' in o
}

function toPromptList(name: string, v: unknown): string[] {
  if (typeof v === 'string') return [v]
  if (Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === 'string')) return v as string[]
  throw invalidArgument(name, 'a string or a non-empty array of strings', v)
}

function broadcast(name: string, list: string[], batch: number): string[] {
  if (list.length === 1) return Array.from({ length: batch }, () => list[0]!)
  if (list.length !== batch) throw invalidArgument(name, `one string or ${batch} strings (one per image)`, list)
  return list
}

function checkSize(name: string, v: unknown, multiple: number): number {
  const n = checkInteger(name, v, 1, 16384)
  if (n % multiple !== 0) {
    throw new DiffuseError('INVALID_ARGUMENT', `Expected ${name} to be a multiple of ${multiple} (the model works in ${multiple}-pixel blocks: VAE factor × unet down-sampling) but received ${n}`, {
      details: { argument: name, multiple },
    })
  }
  return n
}

async function loadImage(name: string, v: ImageInput): Promise<RgbImage> {
  if (typeof v === 'string') return readPng(v)
  return checkRgbImage(name, v)
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b)
}
function lcm(a: number, b: number): number {
  return (a / gcd(a, b)) * b
}

function numbered(path: string, i: number): string {
  const ext = extname(path) || '.png'
  return join(dirname(path), `${basename(path, extname(path))}-${i}${ext}`)
}
