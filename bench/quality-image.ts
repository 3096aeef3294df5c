/**
 * Quality of the bundled emoji model, measured through the SDK itself (ONNX Runtime in Node, the
 * registry's samplers): caption retrieval. For each of 200 held-out captions (emoji never seen in
 * training) and 200 seen ones, generate one image; it counts as retrieved when, among the real
 * images (Google + Twitter) of those 200 captions, its nearest neighbour in the feature space of
 * training/image/eval/features.onnx (a CNN trained to identify emoji, cosine similarity) belongs to
 * the right caption. Chance: 1/200. Side by side in one run: the default sampler and DDIM (the
 * sampler the training job's torch measurement used), plus throughput.
 *
 *   npx tsx bench/quality-image.ts [--captions 200] [--compare] [--write]
 * --write regenerates bench/results/image.md and bench/results/image-emoji-grid.png.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cpus } from 'node:os'
import * as ort from 'onnxruntime-node'
import { loadPipeline, imageGrid, writePng, imageToTensor, type RgbImage } from '../modalities/image/index.js'

const root = new URL('..', import.meta.url).pathname
const evalDir = join(root, 'training/image/eval')
const args = process.argv.slice(2)
const nCaptions = Number(args[args.indexOf('--captions') + 1] ?? 200) || 200
const write = args.includes('--write')
// --compare adds DDIM (the sampler of the training job's torch measurement) side by side
const compare = args.includes('--compare')

const info = JSON.parse(readFileSync(join(evalDir, 'heldout.json'), 'utf8')) as {
  captions: string[]
  gallery_captions: string[]
  seen_captions: string[]
  seen_gallery_captions: string[]
  feature_dim: number
}
const torchMetrics = JSON.parse(readFileSync(join(evalDir, 'metrics.json'), 'utf8')) as Record<string, any>
const readF32 = (f: string) => {
  const b = readFileSync(join(evalDir, f))
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4)
}
const features = await ort.InferenceSession.create(join(evalDir, 'features.onnx'))

async function embed(images: readonly RgbImage[]): Promise<Float32Array[]> {
  const x = new Float32Array(images.length * 3 * 64 * 64)
  images.forEach((im, i) => x.set(imageToTensor(im), i * 3 * 64 * 64))
  const out = await features.run({ image: new ort.Tensor('float32', x, [images.length, 3, 64, 64]) })
  const f = out.features!.data as Float32Array
  const d = info.feature_dim
  return images.map((_, i) => {
    const v = f.slice(i * d, (i + 1) * d)
    const n = Math.hypot(...v)
    return v.map((a) => a / n)
  })
}

function retrieval(queries: Float32Array[], captions: string[], gallery: Float32Array, galleryCaptions: string[]): { top1: number; top5: number } {
  const d = info.feature_dim
  let top1 = 0
  let top5 = 0
  queries.forEach((q, qi) => {
    const sims = galleryCaptions.map((c, gi) => {
      let s = 0
      for (let k = 0; k < d; k++) s += q[k]! * gallery[gi * d + k]!
      return { c, s }
    })
    sims.sort((a, b) => b.s - a.s)
    const ranked = [...new Set(sims.map((x) => x.c))]
    if (ranked[0] === captions[qi]) top1++
    if (ranked.slice(0, 5).includes(captions[qi]!)) top5++
  })
  return { top1: top1 / queries.length, top5: top5 / queries.length }
}

const sd = await loadPipeline('emoji', { device: 'cpu' })
const defaults = sd.model.config.defaults!
const held = info.captions.slice(0, nCaptions)
const seen = info.seen_captions.slice(0, nCaptions)
const heldGallery = readF32('gallery.f32')
const seenGallery = readF32('seen_gallery.f32')

interface Row {
  sampler: string
  heldout: { top1: number; top5: number }
  seen: { top1: number; top5: number }
  imagesPerSecond: number
  images: RgbImage[]
}
const rows: Row[] = []
for (const sampler of compare ? [String(defaults.sampler), 'DDIM'] : [String(defaults.sampler)]) {
  const gen = async (caps: string[]) => {
    const out: RgbImage[] = []
    for (let i = 0; i < caps.length; i += 10) {
      const r = await sd.generate({ prompt: caps.slice(i, i + 10), sampler, seed: 1000 + i })
      out.push(...r.images)
    }
    return out
  }
  const t0 = performance.now()
  const hImgs = await gen(held)
  const sImgs = await gen(seen)
  const secs = (performance.now() - t0) / 1000
  const heldout = retrieval(await embed(hImgs), held, heldGallery, info.gallery_captions)
  const seenR = retrieval(await embed(sImgs), seen, seenGallery, info.seen_gallery_captions)
  rows.push({ sampler, heldout, seen: seenR, imagesPerSecond: (hImgs.length + sImgs.length) / secs, images: [...sImgs.slice(0, 16), ...hImgs.slice(0, 16)] })
  console.log(`${sampler}: held-out top1 ${heldout.top1.toFixed(3)} top5 ${heldout.top5.toFixed(3)} | seen top1 ${seenR.top1.toFixed(3)} top5 ${seenR.top5.toFixed(3)} | ${((hImgs.length + sImgs.length) / secs).toFixed(2)} images/s`)
}
await sd.dispose()

const chance = 1 / held.length
const tg = torchMetrics.retrieval[`guidance_${Number(defaults.guidance).toFixed(1)}`] ?? {}
const pct = (v: number) => `${(100 * v).toFixed(1)}%`
const md = `## Images: emoji model quality (bench/quality-image.ts)

Caption retrieval: one image per caption generated by the SDK (\`loadPipeline('emoji')\`, ONNX Runtime
CPU, ${defaults.steps} steps, guidance ${defaults.guidance}, philox seeds), embedded by a small CNN trained to identify
emoji (\`training/image/eval/features.onnx\`); a caption counts when the nearest real image (Google and
Twitter versions of the ${held.length} captions, cosine similarity) is one of its own. Chance: top-1
${pct(chance)}, top-5 ${pct(5 * chance)}. Ceiling of the feature space: a real Twitter image retrieves its
Google twin ${pct(torchMetrics.retrieval.real_twitter_vs_google_top1)} of the time.

Machine: ${cpus().length}-core development VM (${cpus()[0]?.model ?? 'CPU'}), Node ${process.version}, shared with other jobs
(throughput is indicative only). ${held.length} held-out + ${seen.length} seen captions per sampler, one run.

| sampler | held-out top-1 | held-out top-5 | seen top-1 | seen top-5 | images/s (CPU) |
|---|---:|---:|---:|---:|---:|
${rows.map((r) => `| ${r.sampler} | ${pct(r.heldout.top1)} | ${pct(r.heldout.top5)} | ${pct(r.seen.top1)} | ${pct(r.seen.top5)} | ${r.imagesPerSecond.toFixed(2)} |`).join('\n')}
| torch DDIM, training job (${torchMetrics.device}) | ${pct(tg.heldout_top1 ?? NaN)} | ${pct(tg.heldout_top5 ?? NaN)} | ${pct(tg.seen_top1 ?? NaN)} | ${pct(tg.seen_top5 ?? NaN)} | — |
| chance | ${pct(chance)} | ${pct(5 * chance)} | ${pct(chance)} | ${pct(5 * chance)} | — |

Held-out / chance (top-1, ${rows[0]!.sampler}): ${(rows[0]!.heldout.top1 / chance).toFixed(1)}×; seen / chance: ${(rows[0]!.seen.top1 / chance).toFixed(1)}×.
${rows[1] ? `${rows[0]!.sampler} / DDIM images/s: ${(rows[0]!.imagesPerSecond / rows[1].imagesPerSecond).toFixed(2)}×.` : ''}

Guidance sweep from the training job (torch, DDIM 25 steps, same captions and feature network):

| guidance | held-out top-1 | held-out top-5 | seen top-1 | seen top-5 |
|---:|---:|---:|---:|---:|
${Object.entries(torchMetrics.retrieval)
  .filter(([k]) => k.startsWith('guidance_'))
  .map(([k, v]: [string, any]) => `| ${k.slice(9)} | ${pct(v.heldout_top1)} | ${pct(v.heldout_top5)} | ${pct(v.seen_top1)} | ${pct(v.seen_top5)} |`)
  .join('\n')}

Samples (\`bench/results/image-emoji-grid.png\`, ${rows[0]!.sampler}): first two rows seen captions, last two held-out:
${[...seen.slice(0, 16), ...held.slice(0, 16)].map((c) => `"${c}"`).join(', ')}.
`
console.log(md)
if (write) {
  writeFileSync(join(root, 'bench/results/image.md'), md)
  await writePng(join(root, 'bench/results/image-emoji-grid.png'), imageGrid(rows[0]!.images, 8))
}
