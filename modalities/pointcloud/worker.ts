import { workerHandler } from '../../src/runtime/remote.js'
import type { GenerationRecord } from '../../src/runtime/pipeline.js'
import type { PointCloud } from './cloud.js'
import { loadPipeline, type PointCloudGenerateOptions } from './pipeline.js'

/** The worker side of `loadPipeline(name, { workers: true })`: one pipeline per worker, clouds sent as data. */
export const runInWorker = workerHandler<PointCloudGenerateOptions | GenerationRecord, PointCloud>(
  (model, options) => loadPipeline(model, options),
  (c) => ({
    result: { positions: c.positions, colors: c.colors, trajectory: c.trajectory, record: c.record },
    transfer: [c.positions.buffer as ArrayBuffer, ...(c.colors ? [c.colors.buffer as ArrayBuffer] : [])],
  }),
)
