/**
 * Sampler update throughput: sampler.step() calls per second (the update alone, the model output
 * precomputed) for every sampler, on a 1×4×64×64 latent and a 16×6×2048 point-cloud batch, with the
 * native CPU kernels and with the TypeScript reference kernels, same inputs, side by side in one run.
 *   npx tsx bench/samplers.ts            (about 1.5 minutes on 2 cores)
 *   BENCH_MS=300 npx tsx bench/samplers.ts   (shorter)
 * Tensors of 65536 values and more go through the kernels' async (worker thread) entry points.
 */
import { cpus } from 'node:os'
import { philox } from '../src/core/rng/index.js'
import { createSampler } from '../src/core/samplers/registry.js'
import type { Sampler, SchedulerConfig } from '../src/core/samplers/types.js'
import type { Kernels } from '../src/native/kernels.js'
import { getKernels, nativeInfo } from '../src/native/loader.js'
import { referenceKernels } from '../src/native/reference.js'

const MIN_MS = Number(process.env['BENCH_MS'] ?? 650)
const SD = { beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', num_train_timesteps: 1000 }

const SAMPLERS: [string, () => Sampler][] = [
  ['DDPM', () => createSampler({ _class_name: 'DDPMScheduler', ...SD, clip_sample: false })],
  ['DDIM', () => createSampler({ _class_name: 'DDIMScheduler', ...SD, clip_sample: false })],
  ['DDIM η=1', () => createSampler({ _class_name: 'DDIMScheduler', ...SD, clip_sample: false, eta: 1 })],
  ['PLMS', () => createSampler('PLMS', { _class_name: 'PNDMScheduler', ...SD })],
  ['Euler', () => createSampler('Euler', { _class_name: 'PNDMScheduler', ...SD })],
  ['Euler a', () => createSampler('Euler a', { _class_name: 'PNDMScheduler', ...SD })],
  ['Heun', () => createSampler('Heun', { _class_name: 'PNDMScheduler', ...SD })],
  ['LMS', () => createSampler('LMS', { _class_name: 'PNDMScheduler', ...SD })],
  ['KDPM2', () => createSampler('DPM2', { _class_name: 'PNDMScheduler', ...SD })],
  ['DPM++ 2M', () => createSampler('DPM++ 2M', { _class_name: 'PNDMScheduler', ...SD })],
  ['DPM++ 3M', () => createSampler('DPM++ 3M', { _class_name: 'PNDMScheduler', ...SD })],
  ['DPM++ 2M SDE', () => createSampler('DPM++ 2M SDE', { _class_name: 'PNDMScheduler', ...SD })],
  ['UniPC', () => createSampler('UniPC', { _class_name: 'PNDMScheduler', ...SD })],
  ['LCM', () => createSampler('LCM', { _class_name: 'PNDMScheduler', ...SD })],
  ['Karras Heun (churn)', () => createSampler({ _class_name: 'KarrasHeunScheduler', ...SD, s_churn: 3 } as SchedulerConfig)],
]

const SHAPES: number[][] = [
  [1, 4, 64, 64],
  [16, 6, 2048],
]

/** step() calls per second over a 50-step plan, restarted (fresh state) when it runs out. */
async function measure(make: () => Sampler, shape: number[], kernels: Kernels): Promise<number> {
  const sampler = make()
  const input = philox(1, { kernels: referenceKernels })
  const x = input.randn(shape)
  const eps = input.randn(shape)
  const plan = sampler.plan(sampler.className === 'LCMScheduler' ? 8 : 50)
  let state = sampler.createState(plan)
  const generator = philox(2, { kernels })
  let index = 0
  const one = async () => {
    if (index >= plan.timesteps.length) {
      state = sampler.createState(plan)
      index = 0
    }
    await sampler.step({ plan, state, index, sample: x, shape, modelOutput: eps, generator, kernels })
    index++
  }
  for (let k = 0; k < 3; k++) await one() // warm up (JIT, worker threads)
  let count = 0
  const start = performance.now()
  let now = start
  while (now - start < MIN_MS) {
    await one()
    count++
    now = performance.now()
  }
  return count / ((now - start) / 1000)
}

const info = nativeInfo()
const native = getKernels('cpu')
console.log(`machine: ${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length}, Node ${process.version}, native addon: ${info.loaded ? `loaded (${info.threads} threads, ${info.simd ?? 'no simd info'})` : `not loaded (${info.error ?? ''})`}`)
console.log(`date: ${new Date().toISOString()}, ${MIN_MS} ms per measurement\n`)
for (const shape of SHAPES) {
  console.log(`### [${shape.join(', ')}] (${shape.reduce((a, b) => a * b, 1)} values)\n`)
  console.log('| sampler | TypeScript kernels steps/s | native CPU kernels steps/s | native / TypeScript |')
  console.log('|---|---:|---:|---:|')
  for (const [name, make] of SAMPLERS) {
    const ts = await measure(make, shape, referenceKernels)
    const nat = native.device === 'cpu' ? await measure(make, shape, native) : NaN
    console.log(`| ${name} | ${ts.toFixed(1)} | ${Number.isNaN(nat) ? 'n/a' : nat.toFixed(1)} | ${Number.isNaN(nat) ? 'n/a' : (nat / ts).toFixed(2) + '×'} |`)
  }
  console.log('')
}
