import t from 'tap'
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readModelFolder } from '../src/runtime/model-folder.js'
import { resolveRun } from '../src/runtime/pipeline.js'
import { modelFolderTarget } from './helpers/fuzz-targets.js'
import { runCases } from './helpers/fuzz-run.js'

// Generative fuzz of model folders: model_index.json, scheduler/scheduler_config.json and
// diffusekit.json mutated (structurally and as bytes), files dropped; readModelFolder + resolveRun
// (defaults, sampler, generator) + a short sample() with the resolved sampler.

t.test('400 mutated model folders: clean refusals or a usable run', async (t) => {
  const tally = await runCases(modelFolderTarget, 0x5eed05, 400)
  t.same(tally.failures, [], 'no non-DiffuseError exception, no garbage')
  t.ok(tally.ok > 50, `${tally.ok} accepted`)
  t.ok(Object.keys(tally.refused).length >= 3, `refusals: ${JSON.stringify(tally.refused)}`)
})

t.test('bad diffusekit.json defaults are refused when a run is resolved, naming the option', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dk-mf-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(join(dir, 'unet'), { recursive: true })
  mkdirSync(join(dir, 'scheduler'), { recursive: true })
  writeFileSync(join(dir, 'unet', 'model.onnx'), new Uint8Array(16))
  writeFileSync(join(dir, 'scheduler', 'scheduler_config.json'), JSON.stringify({ _class_name: 'DDIMScheduler' }))
  for (const [defaults, re] of [
    [{ steps: 'ten' }, /steps/],
    [{ steps: 0 }, /steps/],
    [{ guidance: -1 }, /guidance/],
    [{ guidanceRescale: 2 }, /guidanceRescale/],
    [{ sampler: 'Nope' }, /Nope/],
  ] as const) {
    writeFileSync(join(dir, 'diffusekit.json'), JSON.stringify({ defaults }))
    const m = await readModelFolder(dir)
    t.throws(() => resolveRun(m, { seed: 1 }), { name: 'DiffuseError', message: re }, JSON.stringify(defaults))
  }
  writeFileSync(join(dir, 'diffusekit.json'), '{"defaults": ')
  await t.rejects(readModelFolder(dir), { code: 'FILE_FORMAT', message: /diffusekit\.json/ })
  writeFileSync(join(dir, 'diffusekit.json'), '[1]')
  await t.rejects(readModelFolder(dir), { code: 'FILE_FORMAT', message: /JSON object/ })
})

t.test('mutated generation records (--replay files) through optionsFromRecord + resolveRun: only DiffuseErrors', async (t) => {
  const { optionsFromRecord } = await import('../src/runtime/pipeline.js')
  const { bundledModelNames } = await import('../src/runtime/model-folder.js')
  const { mutateJson, rng } = await import('./helpers/fuzz.js')
  const name = bundledModelNames()[0]
  if (!name) return t.pass('no bundled model')
  const model = await readModelFolder(name)
  if (!model.scheduler) return t.pass('bundled model without a scheduler')
  // a record as makeRecord writes it (independent of any pipeline: the fields GenerationRecord documents)
  const record = {
    diffusekit: '0.1.0',
    modality: model.config.modality,
    model: model.name,
    inputs: { prompt: 'x', width: 64, height: 64 },
    sampler: { ...model.scheduler },
    steps: 3,
    guidance: 2,
    guidanceRescale: 0,
    generator: { kind: 'philox', seed: 5 },
  }
  const keys = ['inputs', 'sampler', 'steps', 'guidance', 'guidanceRescale', 'generator', 'kind', 'seed', 'philox', 'torch-cpu', 'torch-cuda', '_class_name', 'signal', 'onProgress']
  const r = rng(0x5eed08)
  let ok = 0
  let refused = 0
  for (let i = 0; i < 2000; i++) {
    let v = JSON.parse(JSON.stringify(record)) as never
    for (let k = 0; k < 1 + (i % 3); k++) v = mutateJson(v, r, keys) as never
    try {
      const run = resolveRun(model, optionsFromRecord(v))
      if (!Number.isInteger(run.steps) || !Number.isFinite(run.guidance)) t.fail(`garbage run from ${JSON.stringify(v).slice(0, 200)}`)
      ok++
    } catch (e) {
      if (!(e instanceof Error) || e.name !== 'DiffuseError') {
        t.fail(`${JSON.stringify(v).slice(0, 300)} -> ${String(e)}`)
        return
      }
      refused++
    }
  }
  t.ok(ok > 50 && refused > 50, `${ok} accepted, ${refused} refused`)
})
