import t from 'tap'
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Tensor } from 'onnxruntime-common'
import { OnnxDenoiser } from '../src/runtime/onnx-denoiser.js'
import { createSession } from '../src/runtime/onnx.js'
import { buildModel, DT, tinyUnet } from './helpers/onnx-builder.js'

const dir = mkdtempSync(join(tmpdir(), 'dk-onnx-'))
function write(name: string, bytes: Uint8Array): string {
  const f = join(dir, name)
  writeFileSync(f, bytes)
  return f
}

const x = new Tensor('float32', Float32Array.from({ length: 2 * 4 * 3 * 3 }, (_, i) => Math.sin(i)), [2, 4, 3, 3])

t.test('both published timestep variants run unchanged (int64 [B], float32 [B], float32 scalar)', async (t) => {
  for (const variant of ['int64', 'float32', 'float32-scalar'] as const) {
    const d = await OnnxDenoiser.create(write(`unet-${variant}.onnx`, tinyUnet({ timestep: variant })))
    const out = await d.predict(x, 981, {})
    const data = out.data as Float32Array
    t.same(out.dims, x.dims, variant)
    let maxErr = 0
    for (let i = 0; i < data.length; i++) maxErr = Math.max(maxErr, Math.abs(data[i]! - (0.5 * (x.data as Float32Array)[i]! + 0.981)))
    t.ok(maxErr < 1e-6, `${variant}: out = 0.5·x + 0.001·t (max error ${maxErr})`)
    await d.dispose()
    await t.rejects(d.predict(x, 1, {}), { code: 'DISPOSED' })
  }
})

t.test('conditioning inputs pass through by name; a missing one is a clear MODEL_IO error', async (t) => {
  const d = await OnnxDenoiser.create(write('unet-ehs.onnx', tinyUnet({ timestep: 'int64', condition: 'encoder_hidden_states' })))
  t.same(d.conditioningInputs, ['encoder_hidden_states'])
  const ehs = new Tensor('float32', Float32Array.from({ length: 2 * 3 * 5 }, (_, i) => (i < 15 ? 1 : 3)), [2, 3, 5])
  const out = (await d.predict(x, 0, { encoder_hidden_states: ehs })).data as Float32Array
  const xs = x.data as Float32Array
  t.ok(Math.abs(out[0]! - (0.5 * xs[0]! + 1)) < 1e-6)
  t.ok(Math.abs(out[40]! - (0.5 * xs[40]! + 3)) < 1e-6)
  await t.rejects(d.predict(x, 0, {}), { code: 'MODEL_IO', message: /encoder_hidden_states/ })
  const wrong = new Tensor('float32', new Float32Array(2 * 3), [2, 3])
  await t.rejects(d.predict(x, 0, { encoder_hidden_states: wrong }), { code: 'MODEL_IO' })
  await d.dispose()
})

t.test('missing, truncated, corrupt and non-unet ONNX files are MODEL_LOAD / MODEL_IO errors naming the file', async (t) => {
  await t.rejects(createSession(join(dir, 'nope.onnx')), { code: 'MODEL_LOAD', message: /nope\.onnx/ })
  const good = tinyUnet({ timestep: 'float32' })
  const truncated = write('truncated.onnx', good.subarray(0, Math.floor(good.length / 2)))
  await t.rejects(createSession(truncated), { code: 'MODEL_LOAD', message: /truncated\.onnx/ })
  await t.rejects(createSession(write('tiny.onnx', Uint8Array.of(1, 2, 3))), { code: 'MODEL_LOAD' })
  const garbage = write('garbage.onnx', Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919) & 255))
  await t.rejects(createSession(garbage), { code: 'MODEL_LOAD', message: /garbage\.onnx/ })
  await t.rejects(createSession(dir), { code: 'MODEL_LOAD' })
  const identity = write(
    'identity.onnx',
    buildModel({
      inputs: [{ name: 'input', type: DT.float, shape: [1] }],
      outputs: [{ name: 'output', type: DT.float, shape: [1] }],
      nodes: [{ op: 'Identity', inputs: ['input'], outputs: ['output'] }],
    }),
  )
  await t.rejects(OnnxDenoiser.create(identity), { code: 'MODEL_IO', message: /"sample" and "timestep"/ })
})

t.test("asking for onnxruntime's CUDA provider without its files falls back to the CPU", async (t) => {
  const warn = console.warn
  const warnings: string[] = []
  console.warn = (m: string) => warnings.push(m)
  try {
    const s = await createSession(write('unet-cuda.onnx', tinyUnet({ timestep: 'int64' })), { device: 'cuda' })
    t.same(s.inputNames, ['sample', 'timestep'])
    await s.release()
  } finally {
    console.warn = warn
  }
  t.ok(warnings.length <= 1, 'at most one warning')
})
