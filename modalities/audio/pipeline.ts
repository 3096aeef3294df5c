import { DiffuseError } from '../../src/errors.js'
import { readModelFolder } from '../../src/runtime/model-folder.js'
import type { GenerationRecord, PipelineOptions } from '../../src/runtime/pipeline.js'
import { WorkerBackedPipeline } from '../../src/runtime/remote.js'
import { AudioClip } from './clip.js'
import type { MusicGenerateOptions } from './music.js'
import type { SpeechGenerateOptions } from './speech.js'
import { MusicPipeline } from './music.js'
import { SpeechPipeline } from './speech.js'

export type AudioPipeline = SpeechPipeline | MusicPipeline

/**
 * Loads an audio pipeline: a bundled model by name ('speech', 'music') or a model folder by path.
 * diffusekit.json's "task" ("speech" | "music") picks the pipeline.
 */
/** An audio pipeline whose generations run in worker threads (`loadPipeline(name, { workers: true })`). */
export type AudioWorkerPipeline = WorkerBackedPipeline<SpeechGenerateOptions | MusicGenerateOptions | GenerationRecord, AudioClip>

export async function loadPipeline(nameOrPath: string, options: PipelineOptions & { workers: true }): Promise<AudioWorkerPipeline>
export async function loadPipeline(name: 'speech', options?: PipelineOptions): Promise<SpeechPipeline>
export async function loadPipeline(name: 'music', options?: PipelineOptions): Promise<MusicPipeline>
export async function loadPipeline(nameOrPath: string, options?: PipelineOptions): Promise<AudioPipeline>
export async function loadPipeline(nameOrPath: string, options: PipelineOptions = {}): Promise<AudioPipeline | AudioWorkerPipeline> {
  const model = await readModelFolder(nameOrPath)
  if (options.workers) {
    if (model.config.modality !== 'audio') throw new DiffuseError('UNSUPPORTED', `${model.root} is not an audio model`)
    return new WorkerBackedPipeline(new URL('./worker.js', import.meta.url).href, model.root, options, (v) => {
      const c = v as { samples: Float32Array; sampleRate: number; record: GenerationRecord; segments: AudioClip['segments'] }
      return new AudioClip(c.samples, c.sampleRate, c.record, c.segments)
    })
  }
  if (model.config.modality !== 'audio') {
    throw new DiffuseError('UNSUPPORTED', `${model.root} is not an audio model (diffusekit.json modality: ${JSON.stringify(model.config.modality ?? null)})`)
  }
  const task = model.config.task
  if (task === 'speech') return SpeechPipeline.load(model, options)
  if (task === 'music') return MusicPipeline.load(model, options)
  throw new DiffuseError('UNSUPPORTED', `${model.root}/diffusekit.json: audio task ${JSON.stringify(task ?? null)} is not one of "speech", "music"`)
}
