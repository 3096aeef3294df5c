import t from 'tap'
import { loadPipeline } from '../modalities/audio/index.js'

t.test('speech in worker threads gives the same audio as in-thread, with progress and abort', async (t) => {
  const local = await loadPipeline('speech')
  const remote = await loadPipeline('speech', { workers: true })
  t.teardown(async () => {
    await local.dispose()
    await remote.dispose()
  })
  const options = { text: 'seven one', seed: 3, steps: 4 }
  const steps: number[] = []
  const [a, b] = await Promise.all([local.generate(options), remote.generate({ ...options, onProgress: (p) => steps.push(p.step) })])
  t.equal(b.sampleRate, a.sampleRate)
  t.same(Array.from(b.samples), Array.from(a.samples), 'identical samples')
  t.same(b.segments, a.segments)
  t.same(b.record, a.record)
  t.ok(steps.length >= 4, 'progress crosses the thread boundary')
  const controller = new AbortController()
  controller.abort()
  await t.rejects(remote.generate({ ...options, signal: controller.signal }), { code: 'ABORTED' })
  await t.rejects(remote.generate({ text: 'xylophone', seed: 1 }), { code: 'UNKNOWN_WORD' }, 'errors keep their codes')
})
