import { workerHandler } from '../../src/runtime/remote.js'
import type { AudioClip } from './clip.js'
import { loadPipeline, type AudioPipeline } from './pipeline.js'

/** The worker side of `loadPipeline(name, { workers: true })`: one pipeline per worker, clips sent as data. */
export const runInWorker = workerHandler<Parameters<AudioPipeline['generate']>[0], AudioClip>(
  (model, options) => loadPipeline(model, options) as Promise<AudioPipeline>,
  (clip) => ({
    result: { samples: clip.samples, sampleRate: clip.sampleRate, record: clip.record, segments: clip.segments },
    transfer: [clip.samples.buffer as ArrayBuffer],
  }),
)
