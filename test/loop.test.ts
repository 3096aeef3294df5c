import t from 'tap'
import { Tensor } from 'onnxruntime-common'
import { functionDenoiser, type Denoiser } from '../src/core/denoiser.js'
import { sample, slerp, startIndexForStrength } from '../src/core/loop.js'
import { philox } from '../src/core/rng/index.js'
import { createSampler } from '../src/core/samplers/registry.js'
import type { SchedulerConfig } from '../src/core/samplers/types.js'
import { referenceKernels } from '../src/native/reference.js'
import { epsCond, epsUncond, readConformance, relError } from './helpers/conformance.js'

interface Case {
  class: string
  config: Record<string, unknown>
  num_inference_steps: number
  guidance_scale: number | null
  base: number[]
  intermediate: { index: number; sample: number[] }[]
  final: number[]
}

const shape = [1, 4, 8, 8]

/** The conformance README's analytic model; the `branch` input says which half is conditional. */
function analytic(calls?: number[]): Denoiser {
  return functionDenoiser((x, dims, ts, cond) => {
    calls?.push(dims[0]!)
    const branch = cond.branch?.data as Float32Array | undefined
    const per = x.length / dims[0]!
    const out = new Float32Array(x.length)
    for (let i = 0; i < x.length; i++) {
      const b = Math.floor(i / per)
      out[i] = branch && branch[b] === 0 ? epsUncond(x[i]!, ts) : epsCond(x[i]!, ts)
    }
    return out
  })
}

const branch = (v: number) => ({ branch: new Tensor('float32', Float32Array.of(v), [1]) })

function sampler(c: Case) {
  return createSampler({ _class_name: c.class, ...c.config } as SchedulerConfig)
}

t.test('guided DDIM through the loop matches the diffusers reference (ddim_sd_cfg7)', async (t) => {
  const c = readConformance<Case>('schedulers/ddim_sd_cfg7.json')
  const calls: number[] = []
  const steps: number[] = []
  const r = await sample({
    denoiser: analytic(calls),
    sampler: sampler(c),
    steps: c.num_inference_steps,
    shape,
    generator: philox(0),
    noise: Float32Array.from(c.base),
    conditioning: branch(1),
    unconditional: branch(0),
    guidanceScale: c.guidance_scale!,
    kernels: referenceKernels,
    onStep: (p) => steps.push(p.step),
    trajectory: true,
  })
  t.ok(relError(r.sample, c.final) < 1e-4, `final rel error ${relError(r.sample, c.final)}`)
  t.equal(r.modelEvaluations, c.num_inference_steps)
  t.ok(calls.every((b) => b === 2), 'both halves go through the model as one batch')
  t.same(steps, Array.from({ length: c.num_inference_steps }, (_, i) => i + 1))
  t.equal(r.trajectory?.length, c.num_inference_steps)

  // a model that takes one item at a time runs the halves separately, with the same result
  const split = await sample({
    denoiser: { ...analytic(), maxBatch: 1, predict: analytic().predict },
    sampler: sampler(c),
    steps: c.num_inference_steps,
    shape,
    generator: philox(0),
    noise: Float32Array.from(c.base),
    conditioning: branch(1),
    unconditional: branch(0),
    guidanceScale: c.guidance_scale!,
    kernels: referenceKernels,
  })
  t.same(Array.from(split.sample), Array.from(r.sample), 'split halves give identical results')
})

t.test('unguided DDIM (leading spacing) matches, including intermediates', async (t) => {
  const c = readConformance<Case>('schedulers/ddim_sd_leading.json')
  const seen = new Map<number, Float32Array>()
  const r = await sample({
    denoiser: analytic(),
    sampler: sampler(c),
    steps: c.num_inference_steps,
    shape,
    generator: philox(0),
    noise: Float32Array.from(c.base),
    kernels: referenceKernels,
    onStep: (p) => seen.set(p.step - 1, Float32Array.from(p.sample)),
  })
  for (const im of c.intermediate) t.ok(relError(seen.get(im.index)!, im.sample) < 1e-4, `step ${im.index}`)
  t.ok(relError(r.sample, c.final) < 1e-4)
})

t.test('img2img starts where diffusers get_timesteps starts', async (t) => {
  t.equal(startIndexForStrength(50, 0.8, 1), 10)
  t.equal(startIndexForStrength(10, 1, 2), 0)
  t.equal(startIndexForStrength(10, 0.3, 2), 14)
  const c = readConformance<Case>('schedulers/ddim_sd_leading.json')
  const init = Float32Array.from(c.base, (v) => v * 0.5)
  const r = await sample({
    denoiser: analytic(),
    sampler: sampler(c),
    steps: 10,
    shape,
    generator: philox(3),
    init: { sample: init, strength: 0.5 },
    kernels: referenceKernels,
  })
  t.equal(r.modelEvaluations, 5)
  await t.rejects(
    sample({ denoiser: analytic(), sampler: sampler(c), steps: 10, shape, generator: philox(3), init: { sample: init, strength: 0.05 } }),
    { code: 'INVALID_ARGUMENT' },
  )
})

t.test('inpainting keeps the unmasked region equal to the original', async (t) => {
  const c = readConformance<Case>('schedulers/ddim_sd_leading.json')
  const original = Float32Array.from(c.base, (v) => 0.7 * v)
  const mask = new Float32Array(original.length)
  for (let i = 0; i < mask.length; i++) mask[i] = i % 64 < 32 ? 1 : 0
  const originalCopy = Float32Array.from(original)
  const r = await sample({
    denoiser: analytic(),
    sampler: sampler(c),
    steps: 12,
    shape,
    generator: philox(11),
    inpaint: { original, mask },
    kernels: referenceKernels,
  })
  let kept = 0
  let changed = 0
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] === 0) kept += r.sample[i] === original[i] ? 1 : 0
    else changed += r.sample[i] !== original[i] ? 1 : 0
  }
  t.equal(kept, mask.length / 2, 'every unmasked value is the original, exactly')
  t.equal(changed, mask.length / 2, 'every masked value is generated')
  t.same(original, originalCopy, 'the caller\'s original is not modified')
})

t.test('AbortSignal stops the run with ABORTED; no further model calls', async (t) => {
  const c = readConformance<Case>('schedulers/ddim_sd_leading.json')
  const controller = new AbortController()
  const calls: number[] = []
  await t.rejects(
    sample({
      denoiser: analytic(calls),
      sampler: sampler(c),
      steps: 20,
      shape,
      generator: philox(1),
      signal: controller.signal,
      onStep: (p) => {
        if (p.step === 3) controller.abort()
      },
    }),
    { code: 'ABORTED' },
  )
  t.equal(calls.length, 3)
  const pre = new AbortController()
  pre.abort()
  await t.rejects(sample({ denoiser: analytic(), sampler: sampler(c), steps: 5, shape, generator: philox(1), signal: pre.signal }), { code: 'ABORTED' })
})

t.test('a model that goes NaN or returns the wrong shape is caught at that step', async (t) => {
  const c = readConformance<Case>('schedulers/ddim_sd_leading.json')
  let n = 0
  const nan = functionDenoiser((x) => {
    n++
    const out = new Float32Array(x.length)
    if (n === 4) out[17] = NaN
    return out
  })
  await t.rejects(sample({ denoiser: nan, sampler: sampler(c), steps: 10, shape, generator: philox(1) }), {
    code: 'NON_FINITE',
    message: /element 17/,
  })
  const short = functionDenoiser((x) => new Float32Array(x.length - 1))
  await t.rejects(sample({ denoiser: short, sampler: sampler(c), steps: 10, shape, generator: philox(1) }), { code: 'SHAPE_MISMATCH' })
  const notArray = functionDenoiser(() => [1, 2] as unknown as Float32Array)
  await t.rejects(sample({ denoiser: notArray, sampler: sampler(c), steps: 10, shape, generator: philox(1) }), { code: 'MODEL_IO' })
})

t.test('bad arguments are clear errors', async (t) => {
  const c = readConformance<Case>('schedulers/ddim_sd_leading.json')
  const base = { denoiser: analytic(), sampler: sampler(c), steps: 10, shape, generator: philox(1) }
  for (const bad of [
    { steps: 0 },
    { steps: 2.5 },
    { steps: -3 },
    { shape: [1, 0, 8] },
    { shape: 'big' },
    { guidanceScale: NaN },
    { guidanceRescale: 2 },
    { noise: new Float32Array(3) },
    { generator: undefined },
    { denoiser: {} },
  ]) {
    await t.rejects(sample({ ...base, ...bad } as never), { name: 'DiffuseError' }, JSON.stringify(Object.keys(bad)))
  }
  const mismatched = createSampler({ _class_name: 'DDIMScheduler', prediction_type: 'v_prediction' })
  await t.rejects(sample({ ...base, sampler: mismatched, denoiser: { ...analytic(), predictionType: 'epsilon', predict: analytic().predict } }), {
    code: 'INVALID_CONFIG',
  })
})

t.test('slerp: endpoints, norm preservation and the parallel fallback', async (t) => {
  const a = Float32Array.of(1, 0, 0)
  const b = Float32Array.of(0, 1, 0)
  t.same(Array.from(slerp(a, b, 0)), [1, 0, 0])
  const mid = slerp(a, b, 0.5)
  t.ok(Math.abs(mid[0]! - Math.SQRT1_2) < 1e-7 && Math.abs(mid[1]! - Math.SQRT1_2) < 1e-7)
  const q = slerp(a, b, 1 / 3)
  t.ok(Math.abs(q[0]! - Math.cos(Math.PI / 6)) < 1e-6 && Math.abs(q[1]! - Math.sin(Math.PI / 6)) < 1e-6)
  const near = slerp(a, Float32Array.of(1, 1e-4, 0), 0.5)
  t.ok(Math.abs(near[1]! - 5e-5) < 1e-9, 'nearly parallel vectors interpolate linearly')
  t.throws(() => slerp(a, new Float32Array(2), 0.5), { code: 'INVALID_ARGUMENT' })
})

t.test('DDIM inversion then DDIM sampling recovers the input', async (t) => {
  const { invert } = await import('../src/core/editing.js')
  // the exact epsilon-predictor for data ~ N(0.5, 0.25²): its probability-flow ODE is smooth, so the
  // round trip error is the DDIM discretisation error alone
  const ddim = createSampler({ _class_name: 'DDIMScheduler', beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012, set_alpha_to_one: false, steps_offset: 1, clip_sample: false })
  const alphas = (ddim as unknown as { schedule: { alphasCumprod: Float64Array } }).schedule.alphasCumprod
  const exact = functionDenoiser((x, _dims, ts) => {
    const a = alphas[Math.round(ts)]!
    const k = Math.sqrt(1 - a) / (a * 0.0625 + 1 - a)
    return Float32Array.from(x, (v) => (v - Math.sqrt(a) * 0.5) * k)
  })
  const data = Float32Array.from({ length: 256 }, (_, i) => 0.5 + 0.25 * Math.sin(0.37 * i + 0.1) * 1.3)
  const copy = Float32Array.from(data)
  const errors: number[] = []
  for (const steps of [50, 100, 200]) {
    const noise = await invert({ denoiser: exact, sampler: ddim, steps, shape, generator: philox(0), data, kernels: referenceKernels })
    const back = await sample({ denoiser: exact, sampler: ddim, steps, shape, generator: philox(0), noise: noise.sample, kernels: referenceKernels })
    errors.push(relError(back.sample, data))
  }
  t.comment(`round-trip relative error at 50/100/200 steps: ${errors.map((e) => e.toExponential(2)).join(', ')}`)
  // DDIM inversion is first order: the model is read at the start of each interval in both directions
  t.ok(errors[0]! < 0.06, `50 steps: within 6% (${errors[0]!.toExponential(2)})`)
  t.ok(errors[1]! < 0.6 * errors[0]! && errors[2]! < 0.6 * errors[1]!, 'the error halves as the steps double')
  // the conformance README's analytic model
  const analyticErr: number[] = []
  for (const steps of [50, 200]) {
    const noise = await invert({ denoiser: analytic(), sampler: ddim, steps, shape, generator: philox(0), data, kernels: referenceKernels })
    const back = await sample({ denoiser: analytic(), sampler: ddim, steps, shape, generator: philox(0), noise: noise.sample, kernels: referenceKernels })
    analyticErr.push(relError(back.sample, data))
  }
  t.comment(`analytic model: round-trip relative error at 50/200 steps: ${analyticErr.map((e) => e.toExponential(2)).join(', ')}`)
  t.ok(analyticErr[1]! < analyticErr[0]! && analyticErr[1]! < 0.05, 'analytic model: within 5% at 200 steps and converging')
  t.same(data, copy, 'the data is not modified')
})
