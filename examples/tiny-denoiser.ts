// Samples a tiny ONNX denoiser through the public API: the exact denoiser for data ~ N(0.5, 0.25²)
// (examples/models/gaussian, built by training/tiny/make-gaussian-denoiser.ts). The samples it draws
// must have that mean and standard deviation.
//
//   npx tsx examples/tiny-denoiser.ts [sampler] [steps]
import { fileURLToPath } from 'node:url'
import { OnnxDenoiser, createSampler, philox, readModelFolder, sample } from 'diffusekit'

const samplerName = process.argv[2] ?? 'DDIM'
const steps = Number(process.argv[3] ?? 50)

const model = await readModelFolder(fileURLToPath(new URL('./models/gaussian', import.meta.url)))
const denoiser = await OnnxDenoiser.create(model.file('unet'))
const sampler = createSampler(samplerName, model.scheduler!)

const result = await sample({
  denoiser,
  sampler,
  steps,
  shape: [4, 1, 32, 32],
  generator: philox(42),
  onStep: ({ step, total }) => {
    if (step === total) process.stderr.write(`${total} steps done\n`)
  },
})
await denoiser.dispose()

let sum = 0
let sumSq = 0
for (const v of result.sample) {
  sum += v
  sumSq += v * v
}
const mean = sum / result.sample.length
const std = Math.sqrt(sumSq / result.sample.length - mean * mean)
console.log(JSON.stringify({ sampler: sampler.className, steps, mean, std, expected: model.config.data }))
