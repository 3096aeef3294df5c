import { Tensor } from 'onnxruntime-common'
import { DiffuseError } from '../../src/errors.js'
import { sample, type StepProgress } from '../../src/core/loop.js'
import type { ModelFolder } from '../../src/runtime/model-folder.js'
import { openUnet, type OnnxDenoiser } from '../../src/runtime/onnx-denoiser.js'
import { kernelsFor, type PipelineOptions, type ResolvedRun } from '../../src/runtime/pipeline.js'
import { melFilterbank, melToLinear, type MelFilterbank } from './mel.js'
import { griffinLim } from './griffin-lim.js'
import { medianFilter2d } from './median.js'

/**
 * The log-mel image a bundled audio model generates, as training/audio/melspec.py defines it
 * (diffusekit.json "representation"): x = 2·(ln(max(mel, e^logMin)) − logMin)/(logMax − logMin) − 1.
 */
export interface MelRepresentation {
  sampleRate: number
  nFft: number
  winLength: number
  hopLength: number
  nMels: number
  fMin: number
  fMax: number
  melScale: 'htk' | 'slaney'
  melNorm: 'slaney' | null
  frames: number
  logMin: number
  logMax: number
}

/** How a label column of the model's class_labels input is named and how big it is. */
export interface LabelColumn {
  name: string
  /** number of classes; the null id (unconditional) is this value */
  size: number
}

/** Largest number of items denoised in one batch (the guided batch is twice this). */
const MAX_BATCH = 32

function num(v: unknown, key: string, folder: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new DiffuseError('INVALID_CONFIG', `${folder}/diffusekit.json: "representation.${key}" must be a number, got ${JSON.stringify(v)}`)
  }
  return v
}

/** Reads and checks diffusekit.json's "representation" block. */
export function readRepresentation(model: ModelFolder): MelRepresentation {
  const r = model.config.representation as Record<string, unknown> | undefined
  if (!r || typeof r !== 'object') throw new DiffuseError('INVALID_CONFIG', `${model.root}/diffusekit.json has no "representation" block (the log-mel parameters)`)
  const scale = r.melScale ?? 'slaney'
  const norm = r.melNorm === undefined ? 'slaney' : r.melNorm
  if (scale !== 'htk' && scale !== 'slaney') throw new DiffuseError('INVALID_CONFIG', `${model.root}/diffusekit.json: melScale must be "htk" or "slaney"`)
  if (norm !== 'slaney' && norm !== null) throw new DiffuseError('INVALID_CONFIG', `${model.root}/diffusekit.json: melNorm must be "slaney" or null`)
  const rep: MelRepresentation = {
    sampleRate: num(r.sampleRate, 'sampleRate', model.root),
    nFft: num(r.nFft, 'nFft', model.root),
    winLength: num(r.winLength ?? r.nFft, 'winLength', model.root),
    hopLength: num(r.hopLength, 'hopLength', model.root),
    nMels: num(r.nMels, 'nMels', model.root),
    fMin: num(r.fMin ?? 0, 'fMin', model.root),
    fMax: num(r.fMax, 'fMax', model.root),
    melScale: scale,
    melNorm: norm,
    frames: num(r.frames, 'frames', model.root),
    logMin: num(r.logMin, 'logMin', model.root),
    logMax: num(r.logMax, 'logMax', model.root),
  }
  if (!(rep.logMax > rep.logMin)) throw new DiffuseError('INVALID_CONFIG', `${model.root}/diffusekit.json: logMax must exceed logMin`)
  return rep
}

/**
 * A class-conditional diffusion model over fixed-size log-mel images, plus the way back to audio
 * (inverse mel → Griffin-Lim). Shared by the speech and music pipelines.
 */
export class MelDiffusionModel {
  readonly model: ModelFolder
  readonly representation: MelRepresentation
  readonly labels: readonly LabelColumn[]
  readonly options: PipelineOptions
  /** [mel rows, frames] of the median filter applied before inversion (diffusekit.json postFilter.median), or null */
  readonly median: readonly [number, number] | null
  private readonly filterbank: MelFilterbank
  private denoiser: OnnxDenoiser | null

  private constructor(model: ModelFolder, rep: MelRepresentation, labels: LabelColumn[], denoiser: OnnxDenoiser, options: PipelineOptions) {
    this.model = model
    this.representation = rep
    this.labels = labels
    this.denoiser = denoiser
    this.options = options
    const m = (model.config.postFilter as { median?: unknown } | undefined)?.median
    if (m !== undefined && !(Array.isArray(m) && m.length === 2 && m.every((v) => Number.isInteger(v) && v >= 1 && v % 2 === 1 && v <= 15))) {
      throw new DiffuseError('INVALID_CONFIG', `${model.root}/diffusekit.json: postFilter.median must be [rows, cols], odd integers 1-15`)
    }
    this.median = m ? [m[0] as number, m[1] as number] : null
    this.filterbank = melFilterbank({
      sampleRate: rep.sampleRate,
      nFft: rep.nFft,
      nMels: rep.nMels,
      fMin: rep.fMin,
      fMax: rep.fMax,
      scale: rep.melScale,
      norm: rep.melNorm,
    })
  }

  static async load(model: ModelFolder, labels: LabelColumn[], options: PipelineOptions = {}): Promise<MelDiffusionModel> {
    const rep = readRepresentation(model)
    const denoiser = await openUnet(model, options, { inputs: ['class_labels'], what: 'a mel audio model' })
    return new MelDiffusionModel(model, rep, labels, denoiser, options)
  }

  /** [1, nMels, frames]: one item's shape. */
  get itemShape(): [number, number, number] {
    return [1, this.representation.nMels, this.representation.frames]
  }

  private live(): OnnxDenoiser {
    if (!this.denoiser) throw new DiffuseError('DISPOSED', `The ${this.model.name} pipeline was disposed`)
    return this.denoiser
  }

  /** Model evaluations a run of `items` images makes (for one progress bar over all batches). */
  evaluations(items: number, run: ResolvedRun): number {
    const batches = Math.ceil(items / MAX_BATCH)
    return batches * run.sampler.plan(run.steps).timesteps.length
  }

  /**
   * Generates one log-mel image per label row (row = one id per label column), in batches.
   * Noise comes from `run.generator` in order, so the same seed and labels give the same images.
   */
  async generateImages(
    rows: readonly (readonly number[])[],
    run: ResolvedRun,
    opts: { signal?: AbortSignal; onProgress?: (p: StepProgress) => void } = {},
  ): Promise<Float32Array[]> {
    const denoiser = this.live()
    const [c, h, w] = this.itemShape
    const per = c * h * w
    const total = this.evaluations(rows.length, run)
    const out: Float32Array[] = []
    let done = 0
    for (let start = 0; start < rows.length; start += MAX_BATCH) {
      const chunk = rows.slice(start, start + MAX_BATCH)
      const b = chunk.length
      const k = this.labels.length
      const cond = new BigInt64Array(b * k)
      const uncond = new BigInt64Array(b * k)
      chunk.forEach((row, i) => {
        for (let j = 0; j < k; j++) {
          cond[i * k + j] = BigInt(row[j]!)
          uncond[i * k + j] = BigInt(this.labels[j]!.size)
        }
      })
      const guided = run.guidance !== 1
      const result = await sample({
        denoiser,
        sampler: run.sampler,
        steps: run.steps,
        shape: [b, c, h, w],
        generator: run.generator,
        conditioning: { class_labels: new Tensor('int64', cond, [b, k]) },
        ...(guided ? { unconditional: { class_labels: new Tensor('int64', uncond, [b, k]) } } : {}),
        guidanceScale: run.guidance,
        guidanceRescale: run.guidanceRescale,
        kernels: kernelsFor(this.options.device),
        ...(opts.signal ? { signal: opts.signal } : {}),
        onStep: (p) => opts.onProgress?.({ ...p, step: done + p.step, total }),
      })
      done += result.modelEvaluations
      for (let i = 0; i < b; i++) out.push(result.sample.slice(i * per, (i + 1) * per))
    }
    return out
  }

  /** Normalised log-mel image [nMels][frames] (any frame count) → linear mel magnitude. */
  imageToMel(image: Float32Array): Float32Array {
    const { logMin, logMax } = this.representation
    const mel = new Float32Array(image.length)
    for (let i = 0; i < image.length; i++) {
      const v = Math.min(Math.max(image[i]!, -1), 1)
      mel[i] = Math.exp(((v + 1) / 2) * (logMax - logMin) + logMin)
    }
    return mel
  }

  /** Log-mel image [nMels][frames] → waveform: least-squares inverse mel, then fast Griffin-Lim. */
  async imageToAudio(image: Float32Array, opts: { iterations?: number; seed?: number; signal?: AbortSignal } = {}): Promise<Float32Array> {
    const rep = this.representation
    const frames = image.length / rep.nMels
    const clean = this.median ? medianFilter2d(image, rep.nMels, frames, this.median[0], this.median[1]) : image
    const linear = melToLinear(this.filterbank, this.imageToMel(clean))
    const device = this.options.device === 'cuda' ? 'cuda' : this.options.device === 'cpu' ? 'cpu' : 'auto'
    return griffinLim(linear, {
      nFft: rep.nFft,
      hop: rep.hopLength,
      win: rep.winLength,
      iterations: opts.iterations ?? 32,
      momentum: 0.99,
      seed: opts.seed ?? 0,
      length: (frames - 1) * rep.hopLength,
      device,
      ...(opts.signal ? { signal: opts.signal } : {}),
    })
  }

  async dispose(): Promise<void> {
    const d = this.denoiser
    this.denoiser = null
    await d?.dispose()
  }
}
