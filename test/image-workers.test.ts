import t from 'tap'
import { loadPipeline } from '../modalities/image/index.js'

t.test('image generation in worker threads gives the same pictures as in-thread, with progress', async (t) => {
  const local = await loadPipeline('emoji')
  const remote = await loadPipeline('emoji', { workers: true })
  t.teardown(async () => {
    await local.dispose()
    await remote.dispose()
  })
  const options = { prompt: 'red apple', seed: 7, steps: 4 }
  const steps: number[] = []
  const [a, b] = await Promise.all([local.generate(options), remote.generate({ ...options, onProgress: (p) => steps.push(p.step) })])
  t.same(Array.from(b.images[0]!.data), Array.from(a.images[0]!.data), 'identical pixels')
  t.same(b.record, a.record, 'identical reproduction records')
  t.same(steps, [1, 2, 3, 4], 'progress crosses the thread boundary')
  const controller = new AbortController()
  controller.abort()
  await t.rejects(remote.generate({ ...options, signal: controller.signal }), { code: 'ABORTED' })
  await t.rejects(remote.generate({ prompt: 'red apple', width: 30 } as never), { code: 'INVALID_ARGUMENT' }, 'errors keep their codes')
})
