import { workerHandler } from '../../src/runtime/remote.js'
import { ImagePipeline, type ImageGenerateOptions, type ImageResult } from './pipeline.js'

/** The worker side of `loadPipeline(name, { workers: true })`: one pipeline per worker, results sent as data. */
export const runInWorker = workerHandler<ImageGenerateOptions, ImageResult>(
  (model, options) => ImagePipeline.load(model, options),
  (r) => ({
    result: { images: r.images, width: r.width, height: r.height, seeds: r.seeds, record: r.record, warnings: r.warnings, latents: r.latents },
    transfer: [...new Set([...r.images.map((i) => i.data.buffer as ArrayBuffer), r.latents.buffer as ArrayBuffer])],
  }),
)
