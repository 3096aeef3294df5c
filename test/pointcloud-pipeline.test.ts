import t from 'tap'
import * as ort from 'onnxruntime-node'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DiffuseError } from '../src/errors.js'
import { createGenerator } from '../src/core/rng/index.js'
import { createSampler } from '../src/core/samplers/registry.js'
import { loadPipeline } from '../modalities/pointcloud/index.js'

const gen = await loadPipeline('shapes')
t.teardown(() => gen.dispose())

const fixture = fileURLToPath(new URL('./fixtures/pointcloud/onestage', import.meta.url))

// Cheap runs: DDIM, 2 steps, no guidance = 2 evaluations of each model.
const cheap = { sampler: 'DDIM', steps: 2, guidance: 1 } as const

// The DDPM schedule both stages of `shapes` use: linear betas 1e-4 .. 0.02 over 1000 steps.
const alphasCumprod: number[] = []
{
  let p = 1
  for (let i = 0; i < 1000; i++) alphasCumprod.push((p *= 1 - (0.0001 + ((0.02 - 0.0001) * i) / 999)))
}

/** Trailing DDIM (eta 0) with 2 steps, t = 999 then 499, for a v-prediction ONNX denoiser, in float64 (x changes in place). */
async function ddim2(file: string, x: Float64Array, dims: number[], feeds: Record<string, ort.Tensor>): Promise<void> {
  const session = await ort.InferenceSession.create(file)
  for (const [tNow, tPrev] of [[999, 499], [499, -1]] as const) {
    const out = await session.run({
      sample: new ort.Tensor('float32', Float32Array.from(x), dims),
      timestep: new ort.Tensor('float32', Float32Array.of(tNow), [1]),
      ...feeds,
    })
    const v = out.out_sample!.data as Float32Array
    const a = alphasCumprod[tNow]!
    const ap = tPrev >= 0 ? alphasCumprod[tPrev]! : 1
    for (let i = 0; i < x.length; i++) {
      const x0 = Math.sqrt(a) * x[i]! - Math.sqrt(1 - a) * v[i]!
      const eps = Math.sqrt(1 - a) * x[i]! + Math.sqrt(a) * v[i]!
      x[i] = Math.sqrt(ap) * x0 + Math.sqrt(1 - ap) * eps
    }
  }
  await session.release()
}

const modelFile = (part: string) => fileURLToPath(new URL(`../models/shapes/${part}/model.onnx`, import.meta.url))

t.test('the bundled model: 14 classes, a shape-latent prior, then 2048 (up to 16384) independent points', async (t) => {
  t.equal(gen.points, 2048)
  t.equal(gen.maxPoints, 16384)
  t.equal(gen.twoStage, true)
  t.ok(gen.classes.length >= 12)
  // the budget: the whole model folder under 20 MB (a 26.8 MB float32 export once broke it)
  const bytes = readdirSync(gen.model.root, { recursive: true, encoding: 'utf8' })
    .map((f) => statSync(join(gen.model.root, f)))
    .reduce((sum, st) => sum + (st.isFile() ? st.size : 0), 0)
  t.ok(bytes < 20e6, `the shapes folder is ${(bytes / 1e6).toFixed(1)} MB`)
  for (const c of ['chair', 'table', 'airplane', 'bunny', 'teapot']) t.ok(gen.classes.includes(c), c)
  t.equal(gen.classId('Chair'), gen.classes.indexOf('chair'), 'class names ignore case')
  // the points' default sampler: Karras Heun from sigma 5 down to the schedule's smallest sigma (~0.01), then 0
  const sampler = createSampler(gen.model.scheduler!)
  t.equal(sampler.className, 'KarrasHeunScheduler')
  const plan = sampler.plan(gen.model.config.defaults!.steps!)
  t.ok(Math.abs(plan.sigmas![0]! - 5) < 1e-9, `starts at sigma 5 (${plan.sigmas![0]})`)
  t.equal(plan.timesteps.length, 2 * 25 - 1, '25 steps = 49 model evaluations')
  t.equal(gen.model.scheduler!['prediction_type'], 'v_prediction')
  t.equal(gen.model.config.defaults!.guidance, 1.25, 'mild guidance on the prior by default: it scored best (bench/results/shapes.md)')
  t.ok(Math.abs(plan.sigmas![plan.sigmas!.length - 2]! - Math.sqrt(1e-4 / (1 - 1e-4))) < 1e-6, 'sigma_min from the schedule')
  t.equal(plan.sigmas![plan.sigmas!.length - 1], 0)
  // the prior's: the same sampler over the whole schedule (the latents were scored that way)
  const prior = createSampler(JSON.parse(readFileSync(join(gen.model.root, 'prior_scheduler', 'scheduler_config.json'), 'utf8')))
  const top = Math.sqrt((1 - alphasCumprod[999]!) / alphasCumprod[999]!)
  t.ok(Math.abs(prior.plan(25).sigmas![0]! - top) < 1e-6 * top, `the prior starts at the schedule's largest sigma (${top.toFixed(2)})`)
})

t.test('bad inputs are DiffuseErrors with stable codes', async (t) => {
  const e = await gen.generate({ prompt: 'dragon', seed: 1 }).catch((x: unknown) => x)
  t.ok(e instanceof DiffuseError && e.code === 'UNKNOWN_CLASS', 'unknown class')
  t.match((e as Error).message, /known classes: .*chair.*teapot/, 'the message lists the known classes')
  for (const points of [0, -1, 2.5, 16385, 1e9, Number.NaN, '16' as unknown as number]) {
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

t.test('a DDIM run equals an independent computation with onnxruntime: the prior, then the points given its latent', async (t) => {
  for (const guidance of [1, 3]) {
    const cloud = await gen.generate({ prompt: 'cube', seed: 7, ...cheap, guidance, trajectory: true })
    t.equal(cloud.count, 2048)
    t.equal(cloud.trajectory?.length, 2, 'one x0 estimate per evaluation of the point model')
    // reference: one philox(7) stream draws the latent's noise [1, 16, 16], then the points' [1, 6, n]; the prior is
    // guided (out_u + g (out_c - out_u)); the point model takes the latent as it comes
    const n = 2048
    const g = createGenerator('philox', 7)
    const z = Float64Array.from(g.randn([1, 16, 16]))
    const x = Float64Array.from(g.randn([1, 6, n]))
    const cube = BigInt(gen.classes.indexOf('cube'))
    if (guidance === 1) {
      await ddim2(modelFile('prior'), z, [1, 16, 16], { class_labels: new ort.Tensor('int64', BigInt64Array.of(cube), [1]) })
    } else {
      // both branches in one batch of 2, combined after each evaluation: run the reference as a batch and mix
      const session = await ort.InferenceSession.create(modelFile('prior'))
      for (const [tNow, tPrev] of [[999, 499], [499, -1]] as const) {
        const both = new Float32Array(512)
        both.set(Float32Array.from(z), 0)
        both.set(Float32Array.from(z), 256)
        const out = await session.run({
          sample: new ort.Tensor('float32', both, [2, 16, 16]),
          timestep: new ort.Tensor('float32', Float32Array.of(tNow, tNow), [2]),
          class_labels: new ort.Tensor('int64', BigInt64Array.of(14n, cube), [2]),
        })
        const v2 = out.out_sample!.data as Float32Array
        const a = alphasCumprod[tNow]!
        const ap = tPrev >= 0 ? alphasCumprod[tPrev]! : 1
        for (let i = 0; i < 256; i++) {
          const v = v2[i]! + guidance * (v2[256 + i]! - v2[i]!)
          const x0 = Math.sqrt(a) * z[i]! - Math.sqrt(1 - a) * v
          const eps = Math.sqrt(1 - a) * z[i]! + Math.sqrt(a) * v
          z[i] = Math.sqrt(ap) * x0 + Math.sqrt(1 - ap) * eps
        }
      }
      await session.release()
    }
    await ddim2(modelFile('unet'), x, [1, 6, n], { shape_latent: new ort.Tensor('float32', Float32Array.from(z), [1, 16, 16]) })
    let worstPos = 0
    let worstCol = 0
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < 3; c++) {
        worstPos = Math.max(worstPos, Math.abs(cloud.positions[3 * i + c]! - x[c * n + i]!))
        const colour = Math.min(Math.max((x[(3 + c) * n + i]! + 1) / 2, 0), 1)
        worstCol = Math.max(worstCol, Math.abs(cloud.colors![3 * i + c]! - colour))
      }
    }
    t.ok(worstPos < 1e-3, `guidance ${guidance}: positions match the reference (max |Δ| ${worstPos})`)
    t.ok(worstCol < 1e-3, `guidance ${guidance}: colours = (channel + 1) / 2 clamped (max |Δ| ${worstCol})`)
  }
})

t.test('seeded runs repeat; the record replays; any point count up to 16384; progress spans both stages', async (t) => {
  const a = await gen.generate({ prompt: 'mug', seed: 3, ...cheap })
  const b = await gen.generate(a.record!)
  t.same(Array.from(b.positions), Array.from(a.positions), 'replaying the record gives the same cloud')
  t.equal(a.record!.modality, 'pointcloud')
  t.same(a.record!.inputs, { prompt: 'mug', points: 2048 })
  for (const v of a.colors!) if (!(v >= 0 && v <= 1)) return t.fail('colour outside [0, 1]')
  for (const v of a.positions) if (!Number.isFinite(v)) return t.fail('non-finite position')
  const few = await gen.generate({ prompt: 'mug', seed: 3, ...cheap, points: 100 })
  t.equal(few.count, 100)
  t.same(few.record!.inputs, { prompt: 'mug', points: 100 })
  const many = await gen.generate({ prompt: 'mug', seed: 3, ...cheap, points: 5000 })
  t.equal(many.count, 5000, 'more points than the model was trained with: they are independent given the latent')
  for (const v of many.positions) if (!Number.isFinite(v)) return t.fail('non-finite position')
  const seen: [number, number][] = []
  await gen.generate({ prompt: 'mug', seed: 3, steps: 3, points: 64, onProgress: (p) => seen.push([p.step, p.total]) })
  // Heun, 3 steps: 5 evaluations of the prior, then 5 of the point model
  t.same(seen, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((s) => [s, 10]), 'one count over both stages')
})

t.test('a one-stage model folder (class-conditional point denoiser, no prior) still loads and runs', async (t) => {
  const one = await loadPipeline(fixture)
  t.teardown(() => one.dispose())
  t.equal(one.twoStage, false)
  t.equal(one.maxPoints, 64)
  const c = await one.generate({ prompt: 'box', seed: 5, ...cheap })
  t.equal(c.count, 64)
  const few = await one.generate({ prompt: 'box', seed: 5, ...cheap, points: 10 })
  t.same(Array.from(few.positions), Array.from(c.positions.subarray(0, 30)), 'fewer points are the first n of the full cloud')
  await t.rejects(one.generate({ prompt: 'box', seed: 5, points: 65 }), { code: 'INVALID_ARGUMENT' }, 'no more than it makes')
  const guided = await one.generate({ prompt: 'box', seed: 5, ...cheap, guidance: 2 })
  t.notSame(Array.from(guided.positions), Array.from(c.positions), 'guidance acts on the point model here')
})

t.test('broken two-stage folders: clear errors', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'dk-shapes-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  const make = (name: string, config: (c: Record<string, unknown>) => void, parts = ['unet', 'prior', 'scheduler', 'prior_scheduler']) => {
    const dir = join(root, name)
    mkdirSync(dir)
    for (const p of parts) symlinkSync(join(gen.model.root, p), join(dir, p))
    const c = JSON.parse(readFileSync(join(gen.model.root, 'diffusekit.json'), 'utf8')) as Record<string, unknown>
    config(c)
    writeFileSync(join(dir, 'diffusekit.json'), JSON.stringify(c))
    return dir
  }
  await t.rejects(loadPipeline(make('no-prior', () => {}, ['unet', 'scheduler', 'prior_scheduler'])), { code: 'MODEL_LOAD', message: /has no prior/ })
  await t.rejects(loadPipeline(make('no-prior-scheduler', () => {}, ['unet', 'prior', 'scheduler'])), { code: 'MODEL_LOAD', message: /has no prior_scheduler/ })
  await t.rejects(loadPipeline(make('bad-latent', (c) => (c.latentShape = [16, 0]))), { code: 'INVALID_CONFIG', message: /latentShape/ })
  await t.rejects(loadPipeline(make('wrong-latent', (c) => (c.latentShape = [8, 32]))), { code: 'MODEL_IO', message: /must take sample \[B, 8, 32\].*takes sample \[B, 16, 16\]/ })
  await t.rejects(loadPipeline(make('few-max', (c) => (c.maxPoints = 100))), { code: 'INVALID_CONFIG', message: /maxPoints/ })
  await t.rejects(loadPipeline(make('one-stage-max', (c) => delete c.latentShape)), { code: 'INVALID_CONFIG', message: /maxPoints/ }, 'maxPoints above points needs a two-stage model')
  await t.rejects(loadPipeline(make('one-stage', (c) => {
    delete c.latentShape
    delete c.maxPoints
  })), { code: 'MODEL_IO', message: /class_labels/ }, 'without latentShape the decoder is taken for a one-stage model, which lacks class_labels')
  await t.rejects(loadPipeline(make('swapped', (c) => (c.latentShape = [16, 16]), ['scheduler', 'prior_scheduler'])), { code: 'MODEL_LOAD' })
})
