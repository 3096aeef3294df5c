import t from 'tap'
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readVaeConfig, OnnxVaeDecoder, OnnxVaeEncoder } from '../src/runtime/vae.js'
import { torchCpu } from '../src/core/rng/index.js'

const root = new URL('..', import.meta.url).pathname
const tinyA = join(root, 'test/fixtures/image/tiny-sd-a')
const tinyB = join(root, 'test/fixtures/image/tiny-sd-b')

t.test('VAE config: scaling factor, channels and the spatial factor 2^(levels-1)', async (t) => {
  t.same(await readVaeConfig(tinyA), { scalingFactor: 0.18215, shiftFactor: 0, latentChannels: 4, spatialFactor: 8 })
  const emoji = await readVaeConfig(join(root, 'models/emoji'))
  t.equal(emoji.spatialFactor, 4)
  t.ok(Math.abs(emoji.scalingFactor - 0.9583) < 1e-3, `scaling factor of the shipped VAE (${emoji.scalingFactor})`)
  const dir = mkdtempSync(join(tmpdir(), 'vae-'))
  t.same(await readVaeConfig(dir), { scalingFactor: 0.18215, shiftFactor: 0, latentChannels: 4, spatialFactor: 8 }, 'SD 1.x defaults')
  cpSync(tinyA, join(dir, 'm'), { recursive: true })
  writeFileSync(join(dir, 'm/vae_decoder/config.json'), JSON.stringify({ scaling_factor: 'big' }))
  await t.rejects(readVaeConfig(join(dir, 'm')), { code: 'INVALID_CONFIG', message: /scaling_factor/ })
  writeFileSync(join(dir, 'm/vae_decoder/config.json'), '{oops')
  await t.rejects(readVaeConfig(join(dir, 'm')), { code: 'FILE_FORMAT' })
})

t.test('encoder variants: latent_parameters is sampled mean + exp(logvar/2)·ε with the generator; latent_sample is taken as is', async (t) => {
  const cfgA = await readVaeConfig(tinyA)
  const encA = await OnnxVaeEncoder.create(join(tinyA, 'vae_encoder/model.onnx'), cfgA)
  t.teardown(() => encA.dispose())
  t.equal(encA.output, 'latent_parameters')
  const img = Float32Array.from({ length: 3 * 64 * 64 }, (_, i) => Math.sin(i * 0.01))
  const z1 = await encA.encode(img, [1, 3, 64, 64], [torchCpu(5)])
  const z2 = await encA.encode(img, [1, 3, 64, 64], [torchCpu(5)])
  const z3 = await encA.encode(img, [1, 3, 64, 64], [torchCpu(6)])
  t.same(z1.shape, [1, 4, 8, 8])
  t.same(Array.from(z1.data), Array.from(z2.data), 'same seed, same latent')
  t.notSame(Array.from(z1.data), Array.from(z3.data), 'posterior draw depends on the generator')
  const encB = await OnnxVaeEncoder.create(join(tinyB, 'vae_encoder/model.onnx'), await readVaeConfig(tinyB))
  t.teardown(() => encB.dispose())
  t.equal(encB.output, 'latent_sample')
  const b1 = await encB.encode(img, [1, 3, 64, 64], [torchCpu(5)])
  const b2 = await encB.encode(img, [1, 3, 64, 64], [torchCpu(6)])
  t.same(Array.from(b1.data), Array.from(b2.data), 'deterministic output, no draw')
  // the decoder divides by the scaling factor: latents decode like latents / s through a VAE with factor 1
  const dec = await OnnxVaeDecoder.create(join(tinyA, 'vae_decoder/model.onnx'), cfgA)
  t.teardown(() => dec.dispose())
  const unit = await OnnxVaeDecoder.create(join(tinyA, 'vae_decoder/model.onnx'), { ...cfgA, scalingFactor: 1 })
  t.teardown(() => unit.dispose())
  const scaled = Float32Array.from(z1.data, (v) => Math.fround(v / cfgA.scalingFactor))
  const a = await dec.decode(z1.data, z1.shape)
  const b = await unit.decode(scaled, z1.shape)
  t.same(a.shape, [1, 3, 64, 64])
  let maxd = 0
  a.data.forEach((v, i) => (maxd = Math.max(maxd, Math.abs(v - b.data[i]!))))
  t.ok(maxd < 1e-5, `decode(z) = raw decode(z / scaling_factor) (max diff ${maxd})`)
})

t.test('a graph without the VAE interface is a MODEL_IO error naming the file', async (t) => {
  const cfg = await readVaeConfig(tinyA)
  await t.rejects(OnnxVaeEncoder.create(join(tinyA, 'vae_decoder/model.onnx'), cfg), { code: 'MODEL_IO', message: /vae_decoder[/\\]model\.onnx.*latent_sample/ })
  await t.rejects(OnnxVaeDecoder.create(join(tinyA, 'vae_decoder/model.onnx'), { ...cfg, latentChannels: 8 }), { code: 'MODEL_IO', message: /latent_channels 8/ })
  await t.rejects(OnnxVaeDecoder.create(join(tinyA, 'vae_decoder/missing.onnx'), cfg), { code: 'MODEL_LOAD', message: /missing\.onnx/ })
})
