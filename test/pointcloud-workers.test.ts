import t from 'tap'
import { loadPipeline } from '../modalities/pointcloud/index.js'

t.test('point clouds in worker threads equal in-thread ones, trajectory included', async (t) => {
  const local = await loadPipeline('shapes')
  const remote = await loadPipeline('shapes', { workers: true })
  t.teardown(async () => {
    await local.dispose()
    await remote.dispose()
  })
  const options = { prompt: 'cube', seed: 2, steps: 3, points: 256, trajectory: true }
  const [a, b] = await Promise.all([local.generate(options), remote.generate(options)])
  t.same(Array.from(b.positions), Array.from(a.positions), 'identical positions')
  t.same(Array.from(b.colors ?? []), Array.from(a.colors ?? []), 'identical colours')
  t.equal(b.trajectory?.length, a.trajectory?.length, 'the trajectory comes back')
  t.same(b.record, a.record)
  await t.rejects(remote.generate({ prompt: 'dragon', seed: 1 }), { code: 'UNKNOWN_CLASS' }, 'errors keep their codes')
})
