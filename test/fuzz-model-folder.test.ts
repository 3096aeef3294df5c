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

t.test('600 mutated model folders: clean refusals or a usable run', async (t) => {
  const tally = await runCases(modelFolderTarget, 0x5eed05, 600)
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
