import t from 'tap'
import * as ort from 'onnxruntime-node'
import { fileURLToPath } from 'node:url'
import { DiffuseError } from '../src/errors.js'
import { createGenerator } from '../src/core/rng/index.js'
import { createSampler } from '../src/core/samplers/registry.js'
import { loadPipeline } from '../modalities/pointcloud/index.js'

const gen = await loadPipeline('shapes')
t.teardown(() => gen.dispose())

// Cheap runs: DDIM, 2 steps, no guidance = 2 model evaluations of one cloud.
const cheap = { sampler: 'DDIM', steps: 2, guidance: 1 } as const

t.test('the bundled model: 14 classes, 2048 points', async (t) => {
  t.equal(gen.points, 2048)
  t.ok(gen.classes.length >= 12)
  for (const c of ['chair', 'table', 'airplane', 'bunny', 'teapot']) t.ok(gen.classes.includes(c), c)
  t.equal(gen.classId('Chair'), gen.classes.indexOf('chair'), 'class names ignore case')
  // the default sampler: Karras Heun from sigma 5 down to the schedule's smallest sigma (~0.01), then 0
  const sampler = createSampler(gen.model.scheduler!)
  t.equal(sampler.className, 'KarrasHeunScheduler')
  const plan = sampler.plan(gen.model.config.defaults!.steps!)
  t.ok(Math.abs(plan.sigmas![0]! - 5) < 1e-9, `starts at sigma 5 (${plan.sigmas![0]})`)
  t.equal(plan.timesteps.length, 2 * 25 - 1, '25 steps = 49 model evaluations')
  t.equal(gen.model.scheduler!['prediction_type'], 'v_prediction')
  t.equal(gen.model.config.defaults!.guidance, 1, 'no guidance by default: it narrows the class distribution (bench/results/shapes.md)')
  t.ok(Math.abs(plan.sigmas![plan.sigmas!.length - 2]! - Math.sqrt(1e-4 / (1 - 1e-4))) < 1e-6, 'sigma_min from the schedule')
  t.equal(plan.sigmas![plan.sigmas!.length - 1], 0)
})

t.test('bad inputs are DiffuseErrors with stable codes', async (t) => {
  const e = await gen.generate({ prompt: 'dragon', seed: 1 }).catch((x: unknown) => x)
  t.ok(e instanceof DiffuseError && e.code === 'UNKNOWN_CLASS', 'unknown class')
  t.match((e as Error).message, /known classes: .*chair.*teapot/, 'the message lists the known classes')
  for (const points of [0, -1, 2.5, 2049, 1e9, Number.NaN, '16' as unknown as number]) {
    await t.rejects(gen.generate({ prompt: 'chair', points, seed: 1 }), { code: 'INVALID_ARGUMENT' }, `points ${String(points)}`)
  }
  await t.rejects(gen.generate({ prompt: '', seed: 1 }), { code: 'INVALID_ARGUMENT' })
  await t.rejects(gen.generate({ prompt: 5 as unknown as string, seed: 1 }), { code: 'INVALID_ARGUMENT' })
  await t.rejects(gen.generate({ prompt: 'chair', steps: 0 }), { code: 'INVALID_ARGUMENT' })
  await t.rejects(gen.generate({ prompt: 'chair', guidance: -1 }), { code: 'INVALID_ARGUMENT' })
  await t.rejects(gen.generate({ prompt: 'chair', trajectory: 'yes' as unknown as boolean }), { code: 'INVALID_ARGUMENT' })
  await t.rejects(gen.generate({ prompt: 'chair', sampler: 'No Such Sampler' }), { code: 'UNKNOWN_SAMPLER' })
  await t.rejects(gen.generate(null as never), { code: 'INVALID_ARGUMENT' })
  await t.rejects(loadPipeline('/nonexistent/model/folder'), DiffuseError)
  const ac = new AbortController()
  ac.abort()
  await t.rejects(gen.generate({ prompt: 'chair', seed: 1, ...cheap, signal: ac.signal }), { code: 'ABORTED' })
})

t.test('a DDIM run equals an independent computation with onnxruntime (same noise, trailing DDIM in float64)', async (t) => {
  const cloud = await gen.generate({ prompt: 'cube', seed: 7, ...cheap, trajectory: true })
  t.equal(cloud.count, 2048)
  t.equal(cloud.trajectory?.length, 2, 'one x0 estimate per model evaluation')
  // reference: x_T = philox(7) noise; DDIM (eta 0, trailing: t = 999, 499; alpha_prev(−1) = 1); the model
  // predicts v = sqrt(a) eps - sqrt(1 - a) x0
  const n = 2048
  const x = Float64Array.from(createGenerator('philox', 7).randn([1, 6, n]))
  const betas = Array.from({ length: 1000 }, (_, i) => 0.0001 + ((0.02 - 0.0001) * i) / 999)
  const ac: number[] = []
  let p = 1
  for (const b of betas) ac.push((p *= 1 - b))
  const session = await ort.InferenceSession.create(fileURLToPath(new URL('../models/shapes/unet/model.onnx', import.meta.url)))
  const cube = BigInt(gen.classes.indexOf('cube'))
  for (const [tNow, tPrev] of [[999, 499], [499, -1]] as const) {
    const out = await session.run({
      sample: new ort.Tensor('float32', Float32Array.from(x), [1, 6, n]),
      timestep: new ort.Tensor('float32', Float32Array.of(tNow), [1]),
      class_labels: new ort.Tensor('int64', BigInt64Array.of(cube), [1]),
    })
    const v = out.out_sample!.data as Float32Array
    const a = ac[tNow]!
    const ap = tPrev >= 0 ? ac[tPrev]! : 1
    for (let i = 0; i < x.length; i++) {
      const x0 = Math.sqrt(a) * x[i]! - Math.sqrt(1 - a) * v[i]!
      const eps = Math.sqrt(1 - a) * x[i]! + Math.sqrt(a) * v[i]!
      x[i] = Math.sqrt(ap) * x0 + Math.sqrt(1 - ap) * eps
    }
  }
  await session.release()
  let worstPos = 0
  let worstCol = 0
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      worstPos = Math.max(worstPos, Math.abs(cloud.positions[3 * i + c]! - x[c * n + i]!))
      const colour = Math.min(Math.max((x[(3 + c) * n + i]! + 1) / 2, 0), 1)
      worstCol = Math.max(worstCol, Math.abs(cloud.colors![3 * i + c]! - colour))
    }
  }
  t.ok(worstPos < 1e-3, `positions match the reference (max |Δ| ${worstPos})`)
  t.ok(worstCol < 1e-3, `colours = (channel + 1) / 2 clamped (max |Δ| ${worstCol})`)
})

t.test('seeded runs repeat; the record replays; fewer points are the first n', async (t) => {
  const a = await gen.generate({ prompt: 'mug', seed: 3, ...cheap })
  const b = await gen.generate(a.record!)
  t.same(Array.from(b.positions), Array.from(a.positions), 'replaying the record gives the same cloud')
  t.equal(a.record!.modality, 'pointcloud')
  t.same(a.record!.inputs, { prompt: 'mug', points: 2048 })
  const few = await gen.generate({ prompt: 'mug', seed: 3, ...cheap, points: 100 })
  t.equal(few.count, 100)
  t.same(Array.from(few.positions), Array.from(a.positions.subarray(0, 300)))
  for (const v of a.colors!) if (!(v >= 0 && v <= 1)) return t.fail('colour outside [0, 1]')
  for (const v of a.positions) if (!Number.isFinite(v)) return t.fail('non-finite position')
})
