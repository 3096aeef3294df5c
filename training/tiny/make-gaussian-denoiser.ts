/**
 * Builds examples/models/gaussian: the exact epsilon-predictor for data x0 ~ N(mean, std²) per element,
 * as an ONNX graph in the diffusers/Optimum unet layout. Nothing is trained: for Gaussian data the
 * optimal denoiser has a closed form, so samples drawn through it must have that mean and std, which
 * makes it an end-to-end check of the whole sampling path.
 *
 *   ε̂(x_t, t) = (x_t − √ᾱ_t·mean) · √(1−ᾱ_t) / (ᾱ_t·std² + 1 − ᾱ_t)
 *
 * Run: npx tsx training/tiny/make-gaussian-denoiser.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildModel, DT } from '../../test/helpers/onnx-builder.js'

const MEAN = 0.5
const STD = 0.25
const T = 1000
const betaStart = 0.00085
const betaEnd = 0.012

// scaled_linear betas, as diffusers defines them, and their cumulative product
const alphasCumprod: number[] = []
let prod = 1
for (let i = 0; i < T; i++) {
  const b = (Math.sqrt(betaStart) + (i / (T - 1)) * (Math.sqrt(betaEnd) - Math.sqrt(betaStart))) ** 2
  prod *= 1 - b
  alphasCumprod.push(prod)
}

const model = buildModel({
  inputs: [
    { name: 'sample', type: DT.float, shape: ['batch', 'channels', 'height', 'width'] },
    { name: 'timestep', type: DT.int64, shape: ['batch'] },
  ],
  outputs: [{ name: 'out_sample', type: DT.float, shape: ['batch', 'channels', 'height', 'width'] }],
  initializers: [
    { name: 'abar_table', type: DT.float, dims: [T], values: alphasCumprod },
    { name: 'shape4', type: DT.int64, dims: [4], values: [-1, 1, 1, 1] },
    { name: 'mean', type: DT.float, dims: [], values: [MEAN] },
    { name: 'var', type: DT.float, dims: [], values: [STD * STD] },
    { name: 'one', type: DT.float, dims: [], values: [1] },
  ],
  nodes: [
    { op: 'Gather', inputs: ['abar_table', 'timestep'], outputs: ['abar_b'], attrs: { axis: 0 } },
    { op: 'Reshape', inputs: ['abar_b', 'shape4'], outputs: ['abar'] },
    { op: 'Sqrt', inputs: ['abar'], outputs: ['sa'] },
    { op: 'Sub', inputs: ['one', 'abar'], outputs: ['omab'] },
    { op: 'Sqrt', inputs: ['omab'], outputs: ['so'] },
    { op: 'Mul', inputs: ['sa', 'mean'], outputs: ['mu_t'] },
    { op: 'Sub', inputs: ['sample', 'mu_t'], outputs: ['centered'] },
    { op: 'Mul', inputs: ['abar', 'var'], outputs: ['av'] },
    { op: 'Add', inputs: ['av', 'omab'], outputs: ['den'] },
    { op: 'Div', inputs: ['so', 'den'], outputs: ['coef'] },
    { op: 'Mul', inputs: ['centered', 'coef'], outputs: ['out_sample'] },
  ],
})

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples', 'models', 'gaussian')
mkdirSync(join(root, 'unet'), { recursive: true })
mkdirSync(join(root, 'scheduler'), { recursive: true })
writeFileSync(join(root, 'unet', 'model.onnx'), model)
const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n'
writeFileSync(join(root, 'model_index.json'), json({ _class_name: 'ORTStableDiffusionPipeline', unet: ['diffusers', 'UNet2DModel'], scheduler: ['diffusers', 'DDIMScheduler'] }))
writeFileSync(
  join(root, 'scheduler', 'scheduler_config.json'),
  json({ _class_name: 'DDIMScheduler', num_train_timesteps: T, beta_start: betaStart, beta_end: betaEnd, beta_schedule: 'scaled_linear', prediction_type: 'epsilon', set_alpha_to_one: false, steps_offset: 1, timestep_spacing: 'leading', clip_sample: false }),
)
writeFileSync(join(root, 'diffusekit.json'), json({ name: 'gaussian', description: `exact denoiser for N(${MEAN}, ${STD}²) data`, data: { mean: MEAN, std: STD }, defaults: { steps: 50, sampler: 'DDIM' } }))
console.log(`wrote ${root}`)
