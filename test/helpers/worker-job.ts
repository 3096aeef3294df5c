import { DiffuseError } from '../../src/errors.js'
import type { WorkerJobContext } from '../../src/runtime/worker-pool.js'

/** A stand-in for a generation: blocks its thread in chunks (as onnxruntime runs do), reports progress. */
export async function runInWorker(payload: { chunks: number; chunkMs: number; fail?: string; value?: number }, ctx: WorkerJobContext) {
  if (payload.fail) throw new DiffuseError('UNKNOWN_WORD', payload.fail)
  const out = new Float64Array(payload.chunks)
  for (let i = 0; i < payload.chunks; i++) {
    if (ctx.signal.aborted) throw new DiffuseError('ABORTED', `aborted at chunk ${i}`)
    const end = Date.now() + payload.chunkMs
    let acc = 0
    while (Date.now() < end) acc += Math.sqrt(acc + 1)
    out[i] = (payload.value ?? 0) + i
    ctx.progress({ step: i + 1, total: payload.chunks })
    await new Promise((r) => setImmediate(r))
  }
  return { result: { values: out }, transfer: [out.buffer] }
}
