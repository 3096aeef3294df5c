import { DiffuseError } from '../errors.js'
import type { StepProgress } from '../core/loop.js'
import type { PipelineOptions } from './pipeline.js'
import { WorkerPool, type WorkerJobContext } from './worker-pool.js'

/**
 * Generation in worker threads behind the same API. A modality provides a worker module whose
 * `runInWorker` is made by `workerHandler` (it loads the pipeline once per worker and serialises results),
 * and wraps the main-thread side with `WorkerBackedPipeline` (which revives results into the modality's
 * own objects). Options that cannot cross threads — `signal` and `onProgress` — are carried by the pool.
 */

export interface PipelineLike<O, R> {
  generate(options: O): Promise<R>
  dispose?(): Promise<void> | void
}

/** What a worker sends back: a structured-cloneable value and the buffers to transfer with it. */
export interface Serialized {
  result: unknown
  transfer?: ArrayBuffer[]
}

export interface WorkerPayload {
  model: string
  pipelineOptions: PipelineOptions
  options: Record<string, unknown>
}

/** Builds a worker module's runInWorker for one modality. */
export function workerHandler<O, R>(
  load: (model: string, options: PipelineOptions) => Promise<PipelineLike<O, R>>,
  serialize: (result: R) => Serialized,
): (payload: WorkerPayload, ctx: WorkerJobContext) => Promise<Serialized> {
  const cache = new Map<string, Promise<PipelineLike<O, R>>>()
  return async (payload, ctx) => {
    const key = JSON.stringify([payload.model, payload.pipelineOptions])
    let p = cache.get(key)
    if (!p) {
      p = load(payload.model, { ...payload.pipelineOptions, workers: false })
      cache.set(key, p)
      p.catch(() => cache.delete(key))
    }
    const pipeline = await p
    const result = await pipeline.generate({ ...payload.options, signal: ctx.signal, onProgress: (s: StepProgress) => ctx.progress(progressSummary(s)) } as O)
    return serialize(result)
  }
}

/** The part of a step's progress worth sending across threads (no sample arrays). */
function progressSummary(p: StepProgress): StepProgress {
  return { step: p.step, total: p.total, index: p.index, timestep: p.timestep, sample: new Float32Array(0) }
}

let sharedPool: WorkerPool | undefined
/** One process-wide pool sized to the machine, shared by every worker-backed pipeline. */
export function sharedWorkerPool(): WorkerPool {
  sharedPool ??= new WorkerPool()
  return sharedPool
}

/** Drops the options that cannot cross a thread boundary, after checking they are what they claim. */
function cloneable(options: Record<string, unknown>): Record<string, unknown> {
  const { signal: _s, onProgress: _p, ...rest } = options
  for (const [k, v] of Object.entries(rest)) {
    if (typeof v === 'function') throw new DiffuseError('INVALID_ARGUMENT', `Option "${k}" is a function, which cannot be sent to a worker thread`)
  }
  return rest
}

/**
 * The main-thread face of a pipeline that runs in worker threads: the same generate() options and
 * results as the in-thread pipeline, with progress and AbortSignal carried across.
 */
export class WorkerBackedPipeline<O extends object, R> {
  private disposed = false
  constructor(
    private readonly module: string,
    private readonly model: string,
    private readonly pipelineOptions: PipelineOptions,
    private readonly revive: (value: unknown) => R,
    private readonly pool: WorkerPool = sharedWorkerPool(),
  ) {}

  async generate(options: O): Promise<R> {
    if (this.disposed) throw new DiffuseError('DISPOSED', 'The pipeline was disposed')
    const o = (options ?? {}) as Record<string, unknown>
    const value = await this.pool.run(
      { module: this.module, payload: { model: this.model, pipelineOptions: this.pipelineOptions, options: cloneable(o) } satisfies WorkerPayload },
      {
        ...(o.signal ? { signal: o.signal as AbortSignal } : {}),
        ...(typeof o.onProgress === 'function' ? { onProgress: o.onProgress as (p: unknown) => void } : {}),
      },
    )
    return this.revive(value)
  }

  /** Workers are shared; disposing the pipeline only stops its use. */
  async dispose(): Promise<void> {
    this.disposed = true
  }
}
