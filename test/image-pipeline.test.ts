import t from 'tap'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadPipeline, readPng, encodePng, type RgbImage } from '../modalities/image/index.js'
import { perImageGenerator } from '../modalities/image/generators.js'
import { torchCpu } from '../src/core/rng/index.js'
import { OnnxVaeEncoder, readVaeConfig } from '../src/runtime/vae.js'
import { imageToTensor } from '../modalities/image/convert.js'

const root = new URL('..', import.meta.url).pathname
const fixtures = join(root, 'test/fixtures/image')
const conformance = new URL('../../shared/conformance/', import.meta.url).pathname

interface RefCase {
  prompt: string
  negative_prompt: string
  steps: number
  guidance: number
  guidance_rescale?: number
  seed: number
  strength?: number
  has_init: boolean
  latents: number[]
  image: number[]
}
interface Ref {
  cases: RefCase[]
  init_image: number[]
}

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0
  let den = 0
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2
    den += b[i]! ** 2
  }
  return Math.sqrt(num / den)
}

// The references were computed by training/image/build_tiny.py in torch: the diffusers
// StableDiffusion(Img2Img)Pipeline loop with DDIMScheduler, torch.Generator('cpu') noise, float32.
for (const variant of ['a', 'b'] as const) {
  t.test(`tiny-sd-${variant}: the TypeScript pipeline reproduces the torch reference`, async (t) => {
    const ref = JSON.parse(readFileSync(join(fixtures, `tiny-sd-${variant}-reference.json`), 'utf8')) as Ref
    const sd = await loadPipeline(join(fixtures, `tiny-sd-${variant}`), { device: 'cpu' })
    t.teardown(() => sd.dispose())
    const initImage: RgbImage = { width: 64, height: 64, data: Uint8Array.from(ref.init_image) }
    for (const c of ref.cases) {
      const r = await sd.generate({
        prompt: c.prompt,
        negativePrompt: c.negative_prompt,
        steps: c.steps,
        guidance: c.guidance,
        guidanceRescale: c.guidance_rescale ?? 0,
        seed: c.seed,
        generator: 'torch-cpu',
        sampler: 'DDIM',
        width: 64,
        height: 64,
        ...(c.has_init ? { init: { image: initImage, strength: c.strength! } } : {}),
      })
      const what = `${c.prompt}${c.has_init ? ' img2img' : ''}${c.guidance_rescale ? ' rescale' : ''}`
      t.ok(relErr(r.latents, c.latents) < 1e-4, `${what}: latents rel. error ${relErr(r.latents, c.latents).toExponential(2)}`)
      let maxDiff = 0
      r.images[0]!.data.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - c.image[i]!))))
      t.ok(maxDiff <= 1, `${what}: pixels within 1 level (max ${maxDiff})`)
    }
  })
}

t.test('initial noise with torch-cpu equals torch.randn for the latent shape (conformance [1,4,64,64])', async (t) => {
  const data = JSON.parse(readFileSync(join(conformance, 'rng/torch_randn.json'), 'utf8')) as {
    cases: { device: string; seed: number; shape: number[]; first: number[]; first_sum?: number }[]
  }
  const cases = data.cases.filter((c) => c.device === 'cpu' && c.shape.join() === '1,4,64,64')
  t.ok(cases.length >= 2)
  for (const c of cases) {
    const x = perImageGenerator([torchCpu(c.seed)]).randn([1, 4, 64, 64])
    t.same(Array.from(x.slice(0, c.first.length)), c.first.map((v) => Math.fround(v)), `seed ${c.seed}: first ${c.first.length} values`)
    t.ok(Math.abs(x.reduce((a, b) => a + b, 0) - c.first_sum!) < 1e-2, `seed ${c.seed}: sum of all 16384`)
  }
  // a batch of per-image generators draws item i from generator i (diffusers' list of generators)
  const two = perImageGenerator([torchCpu(cases[0]!.seed), torchCpu(cases[1]!.seed)]).randn([2, 4, 64, 64])
  t.same(Array.from(two.slice(16384, 16384 + 8)), cases[1]!.first.slice(0, 8).map((v) => Math.fround(v)))
})

t.test('a batch uses seed + i per image: image i equals a single run with that seed', async (t) => {
  const sd = await loadPipeline(join(fixtures, 'tiny-sd-a'))
  t.teardown(() => sd.dispose())
  const opts = { prompt: 'red apple', steps: 3, guidance: 4, sampler: 'Euler a', width: 64, height: 64 }
  const batch = await sd.generate({ ...opts, seed: 10, batch: 2 })
  t.same(batch.seeds, [10, 11])
  const one = await sd.generate({ ...opts, seed: 11 })
  t.same(Array.from(batch.images[1]!.data), Array.from(one.images[0]!.data))
  t.notSame(Array.from(batch.images[0]!.data), Array.from(batch.images[1]!.data))
  const replay = await sd.generate(one.record)
  t.same(Array.from(replay.images[0]!.data), Array.from(one.images[0]!.data), 'the record reproduces the image')
  const dir = mkdtempSync(join(tmpdir(), 'img-'))
  const paths = await batch.save(join(dir, 'apple.png'))
  t.same(paths, [join(dir, 'apple-1.png'), join(dir, 'apple-2.png')])
  t.same(Array.from((await readPng(paths[1]!)).data), Array.from(batch.images[1]!.data))
})

t.test('inpainting keeps the unmasked latents exactly and changes the masked ones', async (t) => {
  const ref = JSON.parse(readFileSync(join(fixtures, 'tiny-sd-b-reference.json'), 'utf8')) as Ref
  const init: RgbImage = { width: 64, height: 64, data: Uint8Array.from(ref.init_image) }
  const mask = new Uint8Array(64 * 64 * 3)
  for (let y = 0; y < 64; y++) for (let x = 32; x < 64; x++) mask.fill(255, (y * 64 + x) * 3, (y * 64 + x) * 3 + 3)
  const sd = await loadPipeline(join(fixtures, 'tiny-sd-b'))
  t.teardown(() => sd.dispose())
  const r = await sd.generate({ prompt: 'red apple', steps: 4, guidance: 3, seed: 5, init: { image: init, strength: 1 }, mask: { width: 64, height: 64, data: mask } })
  // tiny-sd-b's encoder outputs latent_sample (deterministic): the kept half must equal it × scaling
  const folder = join(fixtures, 'tiny-sd-b')
  const enc = await OnnxVaeEncoder.create(join(folder, 'vae_encoder/model.onnx'), await readVaeConfig(folder))
  t.teardown(() => enc.dispose())
  const z = await enc.encode(imageToTensor(init), [1, 3, 64, 64], [torchCpu(0)])
  let keptSame = true
  let maskedDiff = 0
  for (let c = 0; c < 4; c++) {
    for (let y = 0; y < 8; y++) {
      for (let x = 0; x < 8; x++) {
        const i = c * 64 + y * 8 + x
        if (x < 4) keptSame &&= r.latents[i] === z.data[i]
        else maskedDiff = Math.max(maskedDiff, Math.abs(r.latents[i]! - z.data[i]!))
      }
    }
  }
  t.ok(keptSame, 'black half of the mask: the init latents, unchanged')
  t.ok(maskedDiff > 1e-3, 'white half: generated')
})

t.test('bad input: sizes, prompts, masks, images, missing or corrupt components', async (t) => {
  const sd = await loadPipeline(join(fixtures, 'tiny-sd-a'))
  t.teardown(() => sd.dispose())
  const base = { prompt: 'red apple', steps: 2, width: 64, height: 64 }
  await t.rejects(sd.generate({ ...base, width: 60 }), { code: 'INVALID_ARGUMENT', message: /multiple of 8/ })
  await t.rejects(sd.generate({ ...base, height: 0 }), { code: 'INVALID_ARGUMENT' })
  await t.rejects(sd.generate({ ...base, prompt: 42 as unknown as string }), { code: 'INVALID_ARGUMENT', message: /prompt/ })
  await t.rejects(sd.generate({ ...base, prompt: ['a', 'b'], batch: 3 }), { code: 'INVALID_ARGUMENT' })
  await t.rejects(sd.generate({ ...base, mask: { width: 64, height: 64, data: new Uint8Array(64 * 64 * 3) } }), { code: 'INVALID_ARGUMENT', message: /init/ })
  const small = { width: 32, height: 32, data: new Uint8Array(32 * 32 * 3) }
  await t.rejects(sd.generate({ ...base, init: { image: small } }), { code: 'INVALID_ARGUMENT', message: /64x64/ })
  await t.rejects(sd.generate({ ...base, init: { image: { width: 64, height: 64, data: new Uint8Array(64 * 64 * 3) }, strength: 1.5 } }), { code: 'INVALID_ARGUMENT' })
  const dir = mkdtempSync(join(tmpdir(), 'img-bad-'))
  const corrupt = join(dir, 'init.png')
  writeFileSync(corrupt, encodePng({ width: 64, height: 64, data: new Uint8Array(64 * 64 * 3) }).slice(0, 50))
  await t.rejects(sd.generate({ ...base, init: { image: corrupt } }), { code: 'FILE_FORMAT', message: /init\.png/ })
  const ac = new AbortController()
  ac.abort()
  await t.rejects(sd.generate({ ...base, signal: ac.signal }), { code: 'ABORTED' })

  // over-long prompt: truncated, with a warning; empty prompt: an unconditional sample
  const warned: string[] = []
  const onWarning = (w: Error) => warned.push(w.message)
  process.on('warning', onWarning)
  const long = await sd.generate({ ...base, prompt: 'red apple '.repeat(30), seed: 1 })
  const truncatedSame = await sd.generate({ ...base, prompt: 'red apple '.repeat(7) + 'red', seed: 1 })
  await new Promise((r) => setImmediate(r))
  process.off('warning', onWarning)
  t.match(long.warnings[0], /truncated to the model's 16 tokens/)
  t.ok(warned.some((w) => /truncated/.test(w)), 'emitted as a process warning')
  t.same(Array.from(long.images[0]!.data), Array.from(truncatedSame.images[0]!.data), 'same as the prompt cut to 14 tokens')
  const empty = await sd.generate({ ...base, prompt: '', seed: 1 })
  t.equal(empty.images[0]!.data.length, 64 * 64 * 3)

  // missing and corrupt components name the file
  const copy = join(dir, 'model')
  cpSync(join(fixtures, 'tiny-sd-a'), copy, { recursive: true })
  rmSync(join(copy, 'vae_decoder'), { recursive: true })
  await t.rejects(loadPipeline(copy), { code: 'MODEL_LOAD', message: /vae_decoder[/\\]model\.onnx/ })
  cpSync(join(fixtures, 'tiny-sd-a'), copy, { recursive: true })
  rmSync(join(copy, 'text_encoder', 'model.onnx'))
  await t.rejects(loadPipeline(copy), { code: 'MODEL_LOAD', message: /text_encoder[/\\]model\.onnx/ })
  cpSync(join(fixtures, 'tiny-sd-a'), copy, { recursive: true })
  rmSync(join(copy, 'tokenizer'), { recursive: true })
  await t.rejects(loadPipeline(copy), { code: 'MODEL_LOAD', message: /tokenizer/ })
  cpSync(join(fixtures, 'tiny-sd-a'), copy, { recursive: true })
  writeFileSync(join(copy, 'unet', 'model.onnx'), 'not an onnx graph at all')
  await t.rejects(loadPipeline(copy), { code: 'MODEL_LOAD', message: /unet[/\\]model\.onnx/ })
  cpSync(join(fixtures, 'tiny-sd-a'), copy, { recursive: true })
  rmSync(join(copy, 'vae_encoder'), { recursive: true })
  const noEnc = await loadPipeline(copy)
  t.teardown(() => noEnc.dispose())
  await t.rejects(noEnc.generate({ ...base, init: { image: { width: 64, height: 64, data: new Uint8Array(64 * 64 * 3) } } }), {
    code: 'MODEL_LOAD',
    message: /vae_encoder[/\\]model\.onnx/,
  })
  // mismatched parts: a text encoder whose width is not the unet's cross-attention width
  cpSync(join(fixtures, 'tiny-sd-a'), copy, { recursive: true })
  cpSync(join(root, 'models/emoji/text_encoder/model.onnx'), join(copy, 'text_encoder', 'model.onnx'))
  await t.rejects(loadPipeline(copy), { code: 'MODEL_IO', message: /encoder_hidden_states of width 32 .* outputs 192/ })
  // a plain Optimum export (no diffusekit.json): size from unet sample_size × VAE factor, diffusers' defaults
  const plain = join(dir, 'plain')
  cpSync(join(fixtures, 'tiny-sd-a'), plain, { recursive: true })
  rmSync(join(plain, 'diffusekit.json'))
  const sdPlain = await loadPipeline(plain)
  t.teardown(() => sdPlain.dispose())
  t.same([sdPlain.defaultWidth, sdPlain.defaultHeight, sdPlain.sizeMultiple], [64, 64, 8])
  const pr = await sdPlain.generate({ prompt: 'red apple', seed: 2, steps: 2 })
  t.same([pr.width, pr.record.guidance, pr.record.sampler._class_name], [64, 7.5, 'DDIMScheduler'])
  // tiny-sd-b keeps its unet weights in model.onnx_data: without it the graph cannot load
  const copyB = join(dir, 'model-b')
  cpSync(join(fixtures, 'tiny-sd-b'), copyB, { recursive: true })
  rmSync(join(copyB, 'unet', 'model.onnx_data'))
  await t.rejects(loadPipeline(copyB), { code: 'MODEL_LOAD', message: /unet[/\\]model\.onnx/ })
})
