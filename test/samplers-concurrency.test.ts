import t from 'tap'
import { Tensor } from 'onnxruntime-common'
import { functionDenoiser, type Denoiser } from '../src/core/denoiser.js'
import { sample, type SampleResult } from '../src/core/loop.js'
import { philox, torchCpu } from '../src/core/rng/index.js'
import type { Generator } from '../src/core/rng/types.js'
import { createSampler } from '../src/core/samplers/registry.js'
import type { Sampler } from '../src/core/samplers/types.js'
import type { Kernels } from '../src/native/kernels.js'
import { getKernels } from '../src/native/loader.js'
import { referenceKernels } from '../src/native/reference.js'
import { epsCond, epsUncond } from './helpers/conformance.js'

// Samplers hold no per-run state on the instance: 8 generations with different samplers and seeds,
// run concurrently through the sampling loop (interleaved at every await, sharing sampler instances),
// give bit for bit the results of running them one by one.

const SD = { beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', num_train_timesteps: 1000 }

/** The analytic model; it yields to the event loop a job-dependent number of times per call. */
function analytic(yields: number): Denoiser {
  return functionDenoiser(async (x, dims, ts, cond) => {
    for (let k = 0; k < yields; k++) await new Promise<void>((r) => setImmediate(r))
    const branch = cond['branch']?.data as Float32Array | undefined
    const per = x.length / dims[0]!
    const out = new Float32Array(x.length)
    for (let i = 0; i < x.length; i++) out[i] = branch && branch[Math.floor(i / per)] === 0 ? epsUncond(x[i]!, ts) : epsCond(x[i]!, ts)
    return out
  })
}

const branch = (v: number) => ({ branch: new Tensor('float32', Float32Array.of(v), [1]) })

interface Job {
  name: string
  sampler: Sampler
  steps: number
  shape: number[]
  generator: () => Generator
  guidance?: number
  yields: number
}

function jobs(): Job[] {
  // shared instances: several jobs below use the same sampler object
  const sdeKarras = createSampler('DPM++ 2M SDE Karras', { _class_name: 'PNDMScheduler', ...SD })
  const unipc3 = createSampler('UniPC', { ...SD, _class_name: 'DDIMScheduler', solver_order: 3 })
  const eulerA = createSampler('Euler a', { _class_name: 'PNDMScheduler', ...SD })
  const karrasHeun = createSampler('EDM Heun', { s_churn: 3, sigma_min: 0.002, sigma_max: 80 })
  return [
    { name: 'Euler a (stochastic), philox 1', sampler: eulerA, steps: 12, shape: [1, 4, 16, 16], generator: () => philox(1), yields: 1 },
    { name: 'Euler a, same instance, torchCpu 2, guided', sampler: eulerA, steps: 9, shape: [1, 4, 16, 16], generator: () => torchCpu(2), guidance: 5, yields: 3 },
    { name: 'DPM++ 2M SDE Karras (stochastic multistep), philox 3', sampler: sdeKarras, steps: 10, shape: [1, 4, 16, 16], generator: () => philox(3), yields: 2 },
    { name: 'DPM++ 2M SDE Karras, same instance, 1×4×128×128 (async kernels), philox 4', sampler: sdeKarras, steps: 4, shape: [1, 4, 128, 128], generator: () => philox(4), yields: 0 },
    { name: 'UniPC order 3 (multistep), torchCpu 5, guided', sampler: unipc3, steps: 11, shape: [2, 4, 8, 8], generator: () => torchCpu(5), guidance: 7.5, yields: 1 },
    { name: 'LMS (multistep), philox 6', sampler: createSampler('LMS Karras', { _class_name: 'PNDMScheduler', ...SD }), steps: 7, shape: [1, 4, 16, 16], generator: () => philox(6), yields: 4 },
    { name: 'Karras Heun with churn (two-stage, stochastic), philox 7', sampler: karrasHeun, steps: 8, shape: [1, 6, 64], generator: () => philox(7), yields: 2 },
    { name: 'KDPM2 (two-stage), torchCpu 8, guided', sampler: createSampler('DPM2', { _class_name: 'PNDMScheduler', ...SD }), steps: 6, shape: [1, 4, 16, 16], generator: () => torchCpu(8), guidance: 3, yields: 1 },
  ]
}

function run(job: Job, kernels: Kernels): Promise<SampleResult> {
  return sample({
    denoiser: analytic(job.yields),
    sampler: job.sampler,
    steps: job.steps,
    shape: job.shape,
    generator: job.generator(),
    kernels,
    trajectory: true,
    ...(job.guidance ? { conditioning: branch(1), unconditional: branch(0), guidanceScale: job.guidance } : {}),
  })
}

function identical(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false
  return true
}

const kernelSets: [string, Kernels][] = [['typescript', referenceKernels]]
const cpu = getKernels('cpu')
if (cpu.device === 'cpu') kernelSets.push(['native cpu', cpu])

for (const [kname, kernels] of kernelSets) {
  t.test(`8 concurrent generations equal the sequential ones bit for bit (${kname})`, async (t) => {
    const list = jobs()
    t.equal(list.length, 8)
    const sequential: SampleResult[] = []
    for (const job of list) sequential.push(await run(job, kernels))
    // all at once, twice (the second round reuses the same sampler instances once more)
    for (const round of [1, 2]) {
      const concurrent = await Promise.all(list.map((job) => run(job, kernels)))
      list.forEach((job, i) => {
        const a = concurrent[i]!
        const b = sequential[i]!
        t.ok(identical(a.sample, b.sample), `round ${round}, ${job.name}: identical result`)
        t.same(a.timesteps, b.timesteps, `round ${round}, ${job.name}: same timesteps`)
        t.ok(a.trajectory!.length === b.trajectory!.length && a.trajectory!.every((x, k) => identical(x, b.trajectory![k]!)), `round ${round}, ${job.name}: identical trajectory`)
      })
    }
    // the results differ between jobs (the comparison is not vacuous)
    t.notOk(identical(sequential[0]!.sample, sequential[1]!.sample.subarray(0, sequential[0]!.sample.length)), 'different jobs give different results')
    t.ok(sequential.every((r) => r.sample.every(Number.isFinite)), 'all finite')
  })
}

t.test('two runs interleaved step by step on one instance through the Sampler interface', async (t) => {
  // the same as above, at the lowest level: one sampler, two plans and states, steps alternating
  const sampler = createSampler('DPM++ 3M SDE Karras', { _class_name: 'DDIMScheduler', ...SD })
  const shape = [1, 4, 8, 8]
  const go = async (seeds: number[], interleave: boolean) => {
    const runs = seeds.map((seed) => {
      const plan = sampler.plan(9)
      const generator = philox(seed)
      const base = generator.randn(shape)
      return { plan, state: sampler.createState(plan), generator, x: base }
    })
    const order = interleave ? [...Array(9).keys()].flatMap((i) => runs.map((r) => [r, i] as const)) : runs.flatMap((r) => [...Array(9).keys()].map((i) => [r, i] as const))
    for (const [r, index] of order) {
      const ts = r.plan.timesteps[index]!
      const xin = sampler.scaleModelInput(r.x, index, r.plan, r.state)
      const modelOutput = xin.map((v) => epsCond(v, ts))
      r.x = (await sampler.step({ plan: r.plan, state: r.state, index, sample: r.x, shape, modelOutput, generator: r.generator, kernels: referenceKernels })).prevSample
    }
    return runs.map((r) => r.x)
  }
  const [a1, b1] = await go([21, 22], false)
  const [a2, b2] = await go([21, 22], true)
  t.ok(identical(a1!, a2!) && identical(b1!, b2!), 'interleaved steps give the sequential results')
  t.notOk(identical(a1!, b1!), 'the two seeds differ')
  // a state belongs to its plan: a plan from another sampler instance is refused
  const other = createSampler('DPM++ 3M SDE Karras', { _class_name: 'DDIMScheduler', ...SD })
  t.throws(() => other.createState(sampler.plan(5)), { code: 'INVALID_ARGUMENT' })
})
