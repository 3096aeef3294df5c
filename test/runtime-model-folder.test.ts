import t from 'tap'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bundledModelNames, readModelFolder, resolveModel } from '../src/runtime/model-folder.js'
import { tinyUnet } from './helpers/onnx-builder.js'

function folder(files: Record<string, string | Uint8Array>): string {
  const root = mkdtempSync(join(tmpdir(), 'dk-model-'))
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(root, name, '..'), { recursive: true })
    writeFileSync(join(root, name), content)
  }
  return root
}

const scheduler = JSON.stringify({ _class_name: 'DDIMScheduler', _diffusers_version: '0.30.0', beta_schedule: 'scaled_linear' })

t.test('reads the diffusers/Optimum layout: index, scheduler, diffusekit.json, components from folders', async (t) => {
  const root = folder({
    'model_index.json': JSON.stringify({ _class_name: 'ORTStableDiffusionPipeline', unet: ['diffusers', 'UNet2DConditionModel'], safety_checker: [null, null] }),
    'scheduler/scheduler_config.json': scheduler,
    'unet/model.onnx': tinyUnet({ timestep: 'int64' }),
    'vae_decoder/model.onnx': tinyUnet({ timestep: 'int64' }),
    'tokenizer/vocab.json': '{}',
    'diffusekit.json': JSON.stringify({ modality: 'image', name: 'tiny', defaults: { steps: 7 } }),
  })
  const m = await readModelFolder(root)
  t.equal(m.name, 'tiny')
  t.equal(m.scheduler?._class_name, 'DDIMScheduler')
  t.equal(m.config.defaults?.steps, 7)
  t.same([...m.components].sort(), ['scheduler', 'tokenizer', 'unet', 'vae_decoder'])
  t.ok(m.has('vae_decoder'))
  t.notOk(m.has('vae_encoder'))
  t.equal(m.file('unet'), join(root, 'unet', 'model.onnx'))
  t.throws(() => m.file('text_encoder'), { code: 'MODEL_LOAD', message: /text_encoder/ })
})

t.test('a folder without a unet, broken JSON or a nameless scheduler are clear errors', async (t) => {
  await t.rejects(readModelFolder(folder({ 'model_index.json': JSON.stringify({ unet: ['diffusers', 'UNet2DConditionModel'] }) })), {
    code: 'MODEL_LOAD',
    message: /declares a unet but .*unet\/model\.onnx is missing/,
  })
  await t.rejects(readModelFolder(folder({ 'model_index.json': '{"unet": [', 'unet/model.onnx': tinyUnet({ timestep: 'int64' }) })), {
    code: 'FILE_FORMAT',
    message: /model_index\.json is not valid JSON/,
  })
  await t.rejects(readModelFolder(folder({ 'model_index.json': '[1, 2]', 'unet/model.onnx': tinyUnet({ timestep: 'int64' }) })), { code: 'FILE_FORMAT' })
  await t.rejects(
    readModelFolder(folder({ 'scheduler/scheduler_config.json': '{"beta_start": 0.1}', 'unet/model.onnx': tinyUnet({ timestep: 'int64' }) })),
    { code: 'INVALID_CONFIG', message: /_class_name/ },
  )
  await t.rejects(readModelFolder('/nonexistent/model/folder'), { code: 'FILE_NOT_FOUND' })
  const file = folder({ 'x.txt': 'hi' })
  await t.rejects(readModelFolder(join(file, 'x.txt')), { code: 'MODEL_LOAD' })
})

t.test('bundled names resolve inside the package; unknown names list the bundled ones', async (t) => {
  const names = bundledModelNames()
  t.ok(Array.isArray(names))
  t.throws(() => resolveModel('no-such-model'), { code: 'UNKNOWN_MODEL', message: /bundled models:/ })
  t.throws(() => resolveModel(''), { code: 'INVALID_ARGUMENT' })
  t.equal(resolveModel('./some/folder').endsWith('some/folder'), true)
})
