import t from 'tap'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { WorkerPool } from '../src/runtime/worker-pool.js'
import { runInWorker } from './helpers/worker-job.js'

const job = new URL('./helpers/worker-job.js', import.meta.url).href

t.test('jobs run in workers, results and progress come back, more jobs than workers queue', async (t) => {
  const pool = new WorkerPool({ size: 2 })
  t.teardown(() => pool.dispose())
  const progress: number[][] = [[], [], [], []]
  const results = await Promise.all(
    [0, 1, 2, 3].map((k) =>
      pool.run<{ values: Float64Array }>(
        { module: job, payload: { chunks: 3, chunkMs: 5, value: 10 * k } },
        { onProgress: (p: { step: number }) => progress[k]!.push(p.step) },
      ),
    ),
  )
  t.same(
    results.map((r) => Array.from(r.values)),
    [0, 1, 2, 3].map((k) => [10 * k, 10 * k + 1, 10 * k + 2]),
  )
  t.same(progress, [
    [1, 2, 3],
    [1, 2, 3],
    [1, 2, 3],
    [1, 2, 3],
  ])
})

t.test('errors keep their DiffuseError code; abort reaches the worker; the pool keeps working', async (t) => {
  const pool = new WorkerPool({ size: 1 })
  t.teardown(() => pool.dispose())
  await t.rejects(pool.run({ module: job, payload: { chunks: 1, chunkMs: 1, fail: 'no such word' } }), { code: 'UNKNOWN_WORD', message: 'no such word' })
  const controller = new AbortController()
  const running = pool.run({ module: job, payload: { chunks: 200, chunkMs: 5 } }, { signal: controller.signal, onProgress: (p: { step: number }) => p.step === 2 && controller.abort() })
  const queued = pool.run({ module: job, payload: { chunks: 1, chunkMs: 1 } }, { signal: controller.signal })
  await Promise.all([t.rejects(running, { code: 'ABORTED' }), t.rejects(queued, { code: 'ABORTED', message: /queued/ })])
  const after = await pool.run<{ values: Float64Array }>({ module: job, payload: { chunks: 2, chunkMs: 1, value: 5 } })
  t.same(Array.from(after.values), [5, 6])
  await t.rejects(pool.run({ module: 'file:///nonexistent/module.js', payload: {} }), { name: 'DiffuseError' })
  await pool.dispose()
  await t.rejects(pool.run({ module: job, payload: {} }), { code: 'DISPOSED' })
})

t.test('the event loop keeps answering while workers block their own threads', async (t) => {
  const pool = new WorkerPool({ size: 1 })
  t.teardown(() => pool.dispose())
  await pool.run({ module: job, payload: { chunks: 1, chunkMs: 1 } }) // start the worker first
  const h = monitorEventLoopDelay({ resolution: 5 })
  h.enable()
  await pool.run({ module: job, payload: { chunks: 8, chunkMs: 60 } })
  h.disable()
  const workerP99 = h.percentile(99) / 1e6
  const inline = monitorEventLoopDelay({ resolution: 5 })
  inline.enable()
  await runInWorker({ chunks: 8, chunkMs: 60 }, { signal: new AbortController().signal, progress: () => {} })
  inline.disable()
  const inlineP99 = inline.percentile(99) / 1e6
  t.comment(`event-loop delay p99: ${workerP99.toFixed(1)} ms with the worker, ${inlineP99.toFixed(1)} ms inline`)
  t.ok(workerP99 < 50, 'p99 event-loop delay stays under 50 ms with the worker')
  t.ok(inlineP99 >= 50, 'the same work inline blocks the loop for whole chunks')
})
