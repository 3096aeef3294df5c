/**
 * Quality of the bundled emoji model, measured through the SDK itself (ONNX Runtime in Node, the
 * registry's samplers): caption retrieval. For each of 200 held-out captions (emoji never seen in
 * training) and 200 seen ones, generate one image; it counts as retrieved when, among the real
 * images (Google + Twitter) of those 200 captions, its nearest neighbour in the feature space of
 * training/image/eval/features.onnx (a CNN trained to identify emoji, cosine similarity) belongs to
 * the right caption. Chance: 1/200. Side by side in one run: the default sampler and DDIM (the
 * sampler the training job's torch measurement used), plus throughput.
 *
 *   npx tsx bench/quality-image.ts [--captions N] [--guidance G] [--sweep 2,3,7.5] [--compare] [--write]
 * --captions N generates only the first N captions of each list (the seen list is a random draw, the
 * held-out one alphabetical); the gallery stays all 200 captions, so chance stays 1/200.
 * --guidance G overrides the model's default guidance.
 * --sweep adds the default sampler at other guidance scales (same captions and seeds), for choosing
 * the model's default.
 * --write regenerates bench/results/image.md and bench/results/image-emoji-grid.png (the grid needs
 * N >= 16).
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cpus } from 'node:os'
import * as ort from 'onnxruntime-node'
import { loadPipeline, imageGrid, writePng, imageToTensor, type RgbImage } from '../modalities/image/index.js'

const root = new URL('..', import.meta.url).pathname
const evalDir = join(root, 'training/image/eval')
const args = process.argv.slice(2)
function option(name: string): number | undefined {
  const i = args.indexOf(name)
  if (i < 0) return undefined
  const v = Number(args[i + 1])
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} needs a positive number, got ${args[i + 1]}`)
  return v
}
const nCaptions = Math.floor(option('--captions') ?? 200)
const guidanceOverride = option('--guidance')
const sweepAt = args.includes('--sweep')
  ? String(args[args.indexOf('--sweep') + 1]).split(',').map((v) => {
      const g = Number(v)
      if (!Number.isFinite(g) || g < 1) throw new Error(`--sweep takes guidance scales >= 1 separated by commas, got ${v}`)
      return g
    })
  : []
const write = args.includes('--write')
// --compare adds DDIM (the sampler of the training job's torch measurement) side by side
const compare = args.includes('--compare')

const info = JSON.parse(readFileSync(join(evalDir, 'heldout.json'), 'utf8')) as {
  captions: string[]
  gallery_captions: string[]
  gallery_sets: string[]
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
const guidance = guidanceOverride ?? Number(defaults.guidance)
const held = info.captions.slice(0, nCaptions)
const seen = info.seen_captions.slice(0, nCaptions)
const heldGallery = readF32('gallery.f32')
const seenGallery = readF32('seen_gallery.f32')
// chance and ceiling belong to the gallery (all its captions), not to how many queries were generated
const galleryCaptionCount = new Set(info.gallery_captions).size

/** Ceiling of the stored feature space: each held-out caption's real Twitter image as the query, the
 * real Google images as the gallery (features from gallery.f32 itself, so always the network of
 * features.onnx that made them). */
function featureCeiling(): number {
  const d = info.feature_dim
  const pairs: [number, number][] = []
  for (const c of info.captions) {
    const google = info.gallery_captions.findIndex((g, i) => g === c && info.gallery_sets[i] === 'google')
    const twitter = info.gallery_captions.findIndex((g, i) => g === c && info.gallery_sets[i] === 'twitter')
    if (google >= 0 && twitter >= 0) pairs.push([twitter, google])
  }
  let hits = 0
  for (const [q] of pairs) {
    let best = -Infinity
    let bestAt = -1
    for (const [, g] of pairs) {
      let s = 0
      for (let k = 0; k < d; k++) s += heldGallery[q * d + k]! * heldGallery[g * d + k]!
      if (s > best) [best, bestAt] = [s, g]
    }
    if (info.gallery_captions[bestAt] === info.gallery_captions[q]) hits++
  }
  return hits / pairs.length
}
const ceiling = featureCeiling()

interface Row {
  sampler: string
  guidance: number
  heldout: { top1: number; top5: number }
  seen: { top1: number; top5: number }
  imagesPerSecond: number
  images: RgbImage[]
}
const rows: Row[] = []
const runs: [string, number][] = [[String(defaults.sampler), guidance]]
if (compare) runs.push(['DDIM', guidance])
for (const g of sweepAt) if (g !== guidance) runs.push([String(defaults.sampler), g])
for (const [sampler, scale] of runs) {
  const gen = async (caps: string[]) => {
    const out: RgbImage[] = []
    for (let i = 0; i < caps.length; i += 10) {
      const r = await sd.generate({ prompt: caps.slice(i, i + 10), sampler, guidance: scale, seed: 1000 + i })
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
  rows.push({ sampler, guidance: scale, heldout, seen: seenR, imagesPerSecond: (hImgs.length + sImgs.length) / secs, images: [...sImgs.slice(0, 16), ...hImgs.slice(0, 16)] })
  console.log(`${sampler}, guidance ${scale}: held-out top1 ${heldout.top1.toFixed(3)} top5 ${heldout.top5.toFixed(3)} | seen top1 ${seenR.top1.toFixed(3)} top5 ${seenR.top5.toFixed(3)} | ${((hImgs.length + sImgs.length) / secs).toFixed(2)} images/s`)
}
await sd.dispose()

const chance = 1 / galleryCaptionCount
const tg = torchMetrics.retrieval[`guidance_${guidance.toFixed(1)}`] ?? {}
const pct = (v: number) => `${(100 * v).toFixed(1)}%`
// binomial standard error of a top-1 score from n captions, in points
const se = (p: number, n: number) => (100 * Math.sqrt((p * (1 - p)) / n)).toFixed(1)
const torchCeiling = Number(torchMetrics.retrieval.real_twitter_vs_google_top1)
// the training job scores with the feature network it trained; if the stored one is another, say so
const sameFeatures = Math.abs(torchCeiling - ceiling) < 1e-6
const r0 = rows[0]!
const md = `## Images: emoji model quality (bench/quality-image.ts)

Caption retrieval: one image per caption generated by the SDK (\`loadPipeline('emoji')\`, ONNX Runtime
CPU, ${defaults.steps} steps, guidance ${guidance}, philox seeds), embedded by a small CNN trained to identify
emoji (\`training/image/eval/features.onnx\`); a caption counts when the nearest real image (Google and
Twitter versions of the ${galleryCaptionCount} captions, cosine similarity) is one of its own. Chance: top-1
${pct(chance)}, top-5 ${pct(5 * chance)}. Ceiling of the feature space: a real Twitter image retrieves its
Google twin ${pct(ceiling)} of the time.

Machine: ${cpus().length}-core development VM (${cpus()[0]?.model ?? 'CPU'}), Node ${process.version}, shared with other jobs
(throughput is indicative only); \`npx tsx bench/quality-image.ts ${args.join(' ')}\`, ${new Date().toISOString().slice(0, 10)}. ${held.length === info.captions.length ? `All ${held.length}` : `The first ${held.length}`} held-out + ${seen.length} seen captions per sampler
(gallery: all ${galleryCaptionCount} of each), one run; the binomial standard error of a top-1 score p from ${held.length} captions is
√(p(1−p)/${held.length}): ${se(r0.heldout.top1, held.length)} points for the held-out score here, ${se(r0.seen.top1, seen.length)} for the seen one.

| sampler | held-out top-1 | held-out top-5 | seen top-1 | seen top-5 | images/s (CPU) |
|---|---:|---:|---:|---:|---:|
${rows.filter((r) => r.guidance === guidance).map((r) => `| ${r.sampler} | ${pct(r.heldout.top1)} | ${pct(r.heldout.top5)} | ${pct(r.seen.top1)} | ${pct(r.seen.top5)} | ${r.imagesPerSecond.toFixed(2)} |`).join('\n')}
| torch DDIM, training job (${torchMetrics.device}${sameFeatures ? '' : ', its own feature network'}; all ${torchMetrics.retrieval.captions}) | ${pct(tg.heldout_top1 ?? NaN)} | ${pct(tg.heldout_top5 ?? NaN)} | ${pct(tg.seen_top1 ?? NaN)} | ${pct(tg.seen_top5 ?? NaN)} | — |
| chance | ${pct(chance)} | ${pct(5 * chance)} | ${pct(chance)} | ${pct(5 * chance)} | — |

Held-out / chance (top-1, ${r0.sampler}): ${(r0.heldout.top1 / chance).toFixed(1)}×; seen / chance: ${(r0.seen.top1 / chance).toFixed(1)}×.
${compare ? `${r0.sampler} / DDIM images/s: ${(r0.imagesPerSecond / rows[1]!.imagesPerSecond).toFixed(2)}×.` : ''}
${sameFeatures ? '' : `
The training job scored its torch samples with the feature network it trained itself (ceiling
${pct(torchCeiling)}); \`training/image/eval/features.onnx\` and its galleries are another training of the same
network (ceiling ${pct(ceiling)}), so the torch rows and the SDK rows are close but not identical measurements.
`}
${sweepAt.length ? `Guidance sweep through the SDK (${r0.sampler}, ${defaults.steps} steps, the same ${held.length} + ${seen.length} captions and seeds at every scale):

| guidance | held-out top-1 | held-out top-5 | seen top-1 | seen top-5 |
|---:|---:|---:|---:|---:|
${rows
  .filter((r) => r.sampler === r0.sampler)
  .sort((a, b) => a.guidance - b.guidance)
  .map((r) => `| ${r.guidance === guidance ? `**${r.guidance}** (default)` : r.guidance} | ${pct(r.heldout.top1)} | ${pct(r.heldout.top5)} | ${pct(r.seen.top1)} | ${pct(r.seen.top5)} |`)
  .join('\n')}

` : ''}Guidance sweep from the training job (torch, DDIM 25 steps, all ${torchMetrics.retrieval.captions} captions, the job's feature network):

| guidance | held-out top-1 | held-out top-5 | seen top-1 | seen top-5 |
|---:|---:|---:|---:|---:|
${Object.entries(torchMetrics.retrieval)
  .filter(([k]) => k.startsWith('guidance_'))
  .map(([k, v]: [string, any]) => `| ${k.slice(9)} | ${pct(v.heldout_top1)} | ${pct(v.heldout_top5)} | ${pct(v.seen_top1)} | ${pct(v.seen_top5)} |`)
  .join('\n')}

Samples (\`bench/results/image-emoji-grid.png\`, ${r0.sampler}, guidance ${guidance}): first two rows seen captions, last two held-out:
${[...seen.slice(0, 16), ...held.slice(0, 16)].map((c) => `"${c}"`).join(', ')}.
`
console.log(md)
if (write) {
  if (r0.images.length < 32) throw new Error('--write needs --captions 16 or more (the grid is 16 seen + 16 held-out images)')
  writeFileSync(join(root, 'bench/results/image.md'), md)
  await writePng(join(root, 'bench/results/image-emoji-grid.png'), imageGrid(rows[0]!.images, 8))
}
