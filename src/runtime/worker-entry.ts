import { parentPort } from 'node:worker_threads'
import { DiffuseError } from '../errors.js'
import type { FromWorker, ToWorker, WorkerJobContext } from './worker-pool.js'

/** The worker side of WorkerPool: imports each job's module once and runs its `runInWorker`. */
type JobModule = { runInWorker(payload: unknown, context: WorkerJobContext): Promise<{ result: unknown; transfer?: ArrayBuffer[] } | unknown> }

const port = parentPort
if (!port) throw new Error('worker-entry must run in a worker thread')
const modules = new Map<string, Promise<JobModule>>()
const running = new Map<number, AbortController>()

function load(url: string): Promise<JobModule> {
  let m = modules.get(url)
  if (!m) {
    m = import(url) as Promise<JobModule>
    modules.set(url, m)
  }
  return m
}

port.on('message', async (msg: ToWorker) => {
  if (msg.type === 'abort') {
    running.get(msg.id)?.abort(new Error('aborted by the caller'))
    return
  }
  const controller = new AbortController()
  running.set(msg.id, controller)
  try {
    const mod = await load(msg.module)
    if (typeof mod.runInWorker !== 'function') throw new DiffuseError('INVALID_ARGUMENT', `${msg.module} does not export runInWorker`)
    const out = await mod.runInWorker(msg.payload, {
      signal: controller.signal,
      progress: (value) => port.postMessage({ type: 'progress', id: msg.id, value } satisfies FromWorker),
    })
    const { result, transfer } =
      out !== null && typeof out === 'object' && 'result' in out ? (out as { result: unknown; transfer?: ArrayBuffer[] }) : { result: out, transfer: [] }
    port.postMessage({ type: 'done', id: msg.id, result } satisfies FromWorker, transfer ?? [])
  } catch (e) {
    const err = e as Error & { code?: string }
    port.postMessage({
      type: 'error',
      id: msg.id,
      message: err?.message ?? String(e),
      ...(e instanceof DiffuseError ? { code: e.code } : {}),
      ...(err?.stack ? { stack: err.stack } : {}),
    } as FromWorker)
  } finally {
    running.delete(msg.id)
  }
})
