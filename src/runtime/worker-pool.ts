import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { DiffuseError, type DiffuseErrorCode } from '../errors.js'
import { checkInteger } from '../validate.js'

/**
 * A job for a worker: `module` is the URL of a module exporting
 * `runInWorker(payload, context) => Promise<result>`; the worker imports it once and keeps whatever
 * it caches (loaded pipelines, ONNX sessions) for later jobs.
 */
export interface WorkerJob {
  module: string
  payload: unknown
  transfer?: readonly ArrayBuffer[]
}

export interface WorkerJobContext {
  signal: AbortSignal
  progress(value: unknown): void
}

export interface WorkerRunOptions {
  signal?: AbortSignal
  onProgress?: (value: any) => void
}

/** Messages between the pool and its workers. */
export type ToWorker = { type: 'run'; id: number; module: string; payload: unknown } | { type: 'abort'; id: number }
export type FromWorker =
  | { type: 'progress'; id: number; value: unknown }
  | { type: 'done'; id: number; result: unknown }
  | { type: 'error'; id: number; code?: DiffuseErrorCode; message: string; stack?: string }

interface Pending {
  id: number
  job: WorkerJob
  options: WorkerRunOptions
  resolve(v: unknown): void
  reject(e: unknown): void
  onAbort?: () => void
}

interface Slot {
  worker: Worker
  busy: Pending | null
}

/** Default pool size: half the hardware threads (each worker's ONNX session uses several), at least 1. */
export function defaultPoolSize(): number {
  return Math.max(1, Math.floor(availableParallelism() / 2))
}

/**
 * Runs generation jobs in worker threads, so that onnxruntime's blocking runs stay off the caller's
 * event loop. Jobs queue when every worker is busy; progress and AbortSignal cross the thread boundary;
 * errors come back as DiffuseErrors with their codes.
 */
export class WorkerPool {
  readonly size: number
  private readonly slots: Slot[] = []
  private readonly queue: Pending[] = []
  private nextId = 1
  private disposed = false

  constructor(options: { size?: number } = {}) {
    this.size = checkInteger('size', options.size ?? defaultPoolSize(), 1, 256)
  }

  private spawn(): Slot {
    const worker = new Worker(new URL('./worker-entry.js', import.meta.url))
    worker.unref()
    const slot: Slot = { worker, busy: null }
    worker.on('message', (m: FromWorker) => this.onMessage(slot, m))
    worker.on('error', (e) => this.onCrash(slot, e))
    worker.on('exit', (code) => {
      if (slot.busy) this.onCrash(slot, new Error(`worker exited with code ${code}`))
      const i = this.slots.indexOf(slot)
      if (i >= 0) this.slots.splice(i, 1)
    })
    this.slots.push(slot)
    return slot
  }

  run<T = unknown>(job: WorkerJob, options: WorkerRunOptions = {}): Promise<T> {
    if (this.disposed) return Promise.reject(new DiffuseError('DISPOSED', 'The worker pool was disposed'))
    if (options.signal?.aborted) return Promise.reject(new DiffuseError('ABORTED', 'Generation aborted before it started', { cause: options.signal.reason }))
    return new Promise<T>((resolve, reject) => {
      const p: Pending = { id: this.nextId++, job, options, resolve: resolve as (v: unknown) => void, reject }
      if (options.signal) {
        p.onAbort = () => this.abort(p)
        options.signal.addEventListener('abort', p.onAbort, { once: true })
      }
      this.queue.push(p)
      this.pump()
    })
  }

  private pump(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => !s.busy)
      if (!slot && this.slots.length < this.size) slot = this.spawn()
      if (!slot) return
      const p = this.queue.shift()!
      slot.busy = p
      slot.worker.ref()
      const msg: ToWorker = { type: 'run', id: p.id, module: p.job.module, payload: p.job.payload }
      slot.worker.postMessage(msg, (p.job.transfer ?? []) as ArrayBuffer[])
    }
  }

  private finish(slot: Slot, p: Pending): void {
    if (p.onAbort) p.options.signal?.removeEventListener('abort', p.onAbort)
    slot.busy = null
    slot.worker.unref()
    this.pump()
  }

  private abort(p: Pending): void {
    const queued = this.queue.indexOf(p)
    if (queued >= 0) {
      this.queue.splice(queued, 1)
      p.reject(new DiffuseError('ABORTED', 'Generation aborted while queued', { cause: p.options.signal?.reason }))
      return
    }
    const slot = this.slots.find((s) => s.busy === p)
    slot?.worker.postMessage({ type: 'abort', id: p.id } satisfies ToWorker)
  }

  private onMessage(slot: Slot, m: FromWorker): void {
    const p = slot.busy
    if (!p || p.id !== m.id) return
    if (m.type === 'progress') {
      try {
        p.options.onProgress?.(m.value)
      } catch {
        // a throwing progress callback must not take the pool down
      }
      return
    }
    this.finish(slot, p)
    if (m.type === 'done') p.resolve(m.result)
    else {
      const e = new DiffuseError(m.code ?? 'NATIVE', m.message)
      if (m.stack) e.stack = m.stack
      p.reject(e)
    }
  }

  private onCrash(slot: Slot, error: Error): void {
    const p = slot.busy
    slot.busy = null
    const i = this.slots.indexOf(slot)
    if (i >= 0) this.slots.splice(i, 1)
    void slot.worker.terminate()
    if (p) {
      if (p.onAbort) p.options.signal?.removeEventListener('abort', p.onAbort)
      p.reject(new DiffuseError('NATIVE', `A generation worker failed: ${error.message}`, { cause: error }))
    }
    this.pump()
  }

  /** Stops every worker; queued and running jobs reject with DISPOSED. */
  async dispose(): Promise<void> {
    this.disposed = true
    for (const p of this.queue.splice(0)) p.reject(new DiffuseError('DISPOSED', 'The worker pool was disposed'))
    const slots = this.slots.splice(0)
    for (const s of slots) {
      if (s.busy) s.busy.reject(new DiffuseError('DISPOSED', 'The worker pool was disposed'))
      s.busy = null
    }
    await Promise.all(slots.map((s) => s.worker.terminate()))
  }
}
