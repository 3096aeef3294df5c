// Draws emoji from text with the bundled model, through the public API: a batch with per-image
// seeds, a negative prompt, then an img2img variation of the first picture. Any Stable Diffusion
// ONNX folder (optimum-cli export onnx) works the same way: loadPipeline('/path/to/folder').
//
//   npx tsx examples/image.ts ["red apple"] [out.png] [model]
import { loadPipeline, imageGrid, writePng } from 'diffusekit/image'

const prompt = process.argv[2] ?? 'red apple'
const out = process.argv[3] ?? 'emoji.png'
const model = process.argv[4] ?? 'emoji'

const sd = await loadPipeline(model)
const batch = await sd.generate({ prompt, negativePrompt: 'flag', batch: 4, seed: 7, sampler: 'DPM++ 2M Karras' })
const variation = await sd.generate({ prompt, init: { image: batch.images[0]!, strength: 0.5 }, seed: 8 })
await writePng(out, imageGrid([...batch.images, variation.images[0]!], 5))
await sd.dispose()
console.log(JSON.stringify({ file: out, width: batch.width, height: batch.height, seeds: batch.seeds, record: batch.record }))
