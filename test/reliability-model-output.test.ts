import t from 'tap'
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sample } from '../src/core/loop.js'
import { createSampler } from '../src/core/samplers/registry.js'
import { createGenerator } from '../src/core/rng/index.js'
import { referenceKernels } from '../src/native/reference.js'
import { OnnxDenoiser } from '../src/runtime/onnx-denoiser.js'
import { buildModel, DT, type NodeSpec, type Initializer } from './helpers/onnx-builder.js'

// Models that misbehave, as real ONNX graphs through OnnxDenoiser + sample(): NaN/Inf outputs and a
// wrong output shape must stop the run with a clear DiffuseError naming the step where it happened;
// replacing or deleting the model file after it was loaded must not change a loaded denoiser.

const dir = mkdtempSync(join(tmpdir(), 'dk-model-out-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

function unet(name: string, nodes: NodeSpec[], initializers: Initializer[] = []): string {
  const file = join(dir, `${name}.onnx`)
  writeFileSync(
    file,
    buildModel({
      inputs: [
        { name: 'sample', type: DT.float, shape: ['batch', 2, 2, 2] },
        { name: 'timestep', type: DT.float, shape: ['batch'] },
      ],
      outputs: [{ name: 'out_sample', type: DT.float }],
      nodes,
      initializers,
    }),
  )
  return file
}

const scalar = (name: string, v: number): Initializer => ({ name, type: DT.float, dims: [], values: [v] })
const ints = (name: string, values: number[]): Initializer => ({ name, type: DT.int64, dims: [values.length], values })

async function run(file: string, onStep?: (p: { step: number; timestep: number }) => void) {
  const denoiser = await OnnxDenoiser.create(file, { threads: 1 })
  try {
    return await sample({
      denoiser,
      sampler: createSampler('DDIM'),
      steps: 10,
      shape: [1, 2, 2, 2],
      generator: createGenerator('philox', 3),
      kernels: referenceKernels,
      ...(onStep ? { onStep: (p: { step: number; timestep: number }) => onStep(p) } : {}),
    })
  } finally {
    await denoiser.dispose()
  }
}

t.test('a graph whose output is Log(-1) = NaN: NON_FINITE at the first step', async (t) => {
  const file = unet('nan', [
    { op: 'Mul', inputs: ['sample', 'zero'], outputs: ['z'] },
    { op: 'Sub', inputs: ['z', 'one'], outputs: ['m1'] },
    { op: 'Log', inputs: ['m1'], outputs: ['out_sample'] },
  ], [scalar('zero', 0), scalar('one', 1)])
  await t.rejects(run(file), { name: 'DiffuseError', code: 'NON_FINITE', message: /model output NaN at element 0 at timestep 900 \(plan index 0\)/ })
})

t.test('a graph that goes NaN only below timestep 500: caught at exactly that step, earlier steps ran', async (t) => {
  // out = sample * 0.1 + Log(t - 500) * 0: finite while t > 500, NaN (log of a negative) after
  const file = unet('late-nan', [
    { op: 'Sub', inputs: ['timestep', 'c500'], outputs: ['d'] },
    { op: 'Log', inputs: ['d'], outputs: ['l'] },
    { op: 'Mul', inputs: ['l', 'zero'], outputs: ['l0'] },
    { op: 'Reshape', inputs: ['l0', 'shape4'], outputs: ['l4'] },
    { op: 'Mul', inputs: ['sample', 'tenth'], outputs: ['s'] },
    { op: 'Add', inputs: ['s', 'l4'], outputs: ['out_sample'] },
  ], [scalar('c500', 500), scalar('zero', 0), scalar('tenth', 0.1), ints('shape4', [-1, 1, 1, 1])])
  const seen: number[] = []
  // DDIM with 10 steps, leading spacing, steps_offset 0: 900, 800, ..., 0 — 900..600 are fine, 500 gives log(0)·0 = NaN
  const err = await run(file, (p) => seen.push(p.timestep)).catch((e: unknown) => e)
  t.match(err, { name: 'DiffuseError', code: 'NON_FINITE', details: { timestep: 500, index: 4 } })
  t.same(seen, [900, 800, 700, 600], 'the four steps before it completed and reported progress')
})

t.test('a graph that divides by zero (Inf): NON_FINITE', async (t) => {
  const file = unet('inf', [
    { op: 'Sub', inputs: ['timestep', 'timestep'], outputs: ['z'] },
    { op: 'Reshape', inputs: ['z', 'shape4'], outputs: ['z4'] },
    { op: 'Add', inputs: ['sample', 'one'], outputs: ['s1'] },
    { op: 'Abs', inputs: ['s1'], outputs: ['a'] },
    { op: 'Add', inputs: ['a', 'one'], outputs: ['pos'] },
    { op: 'Div', inputs: ['pos', 'z4'], outputs: ['out_sample'] },
  ], [scalar('one', 1), ints('shape4', [-1, 1, 1, 1])])
  await t.rejects(run(file), { code: 'NON_FINITE', message: /Infinity/ })
})

t.test('a graph whose output is a slice of its input: SHAPE_MISMATCH naming both shapes', async (t) => {
  const file = unet('slice', [{ op: 'Slice', inputs: ['sample', 'starts', 'ends', 'axes'], outputs: ['out_sample'] }], [ints('starts', [0]), ints('ends', [1]), ints('axes', [1])])
  await t.rejects(run(file), { name: 'DiffuseError', code: 'SHAPE_MISMATCH', message: /returned \[1, 1, 2, 2\] \(4 values\) for an input of shape \[1, 2, 2, 2\] at timestep 900/ })
})

t.test('the model file replaced or deleted after loading: the loaded denoiser is unaffected', async (t) => {
  const file = unet('swap', [{ op: 'Mul', inputs: ['sample', 'k'], outputs: ['out_sample'] }], [scalar('k', 0.5)])
  const opts = { sampler: createSampler('DDIM'), steps: 5, shape: [1, 2, 2, 2] as const, kernels: referenceKernels }
  const denoiser = await OnnxDenoiser.create(file, { threads: 1 })
  t.teardown(() => denoiser.dispose())
  const before = await sample({ ...opts, denoiser, generator: createGenerator('philox', 9) })
  // another graph (k = 2) written over the file: onnxruntime holds the loaded graph in memory
  writeFileSync(file, buildModel({
    inputs: [{ name: 'sample', type: DT.float, shape: ['batch', 2, 2, 2] }, { name: 'timestep', type: DT.float, shape: ['batch'] }],
    outputs: [{ name: 'out_sample', type: DT.float }],
    nodes: [{ op: 'Mul', inputs: ['sample', 'k'], outputs: ['out_sample'] }],
    initializers: [scalar('k', 2)],
  }))
  const afterSwap = await sample({ ...opts, denoiser, generator: createGenerator('philox', 9) })
  t.same(Array.from(afterSwap.sample), Array.from(before.sample), 'same result after the file was replaced')
  writeFileSync(file, 'garbage, not a protobuf')
  const afterGarbage = await sample({ ...opts, denoiser, generator: createGenerator('philox', 9) })
  t.same(Array.from(afterGarbage.sample), Array.from(before.sample), 'same result after the file was overwritten with garbage')
  unlinkSync(file)
  const afterDelete = await sample({ ...opts, denoiser, generator: createGenerator('philox', 9) })
  t.same(Array.from(afterDelete.sample), Array.from(before.sample), 'same result after the file was deleted')
  // a new load sees the new state of the disk, with a clear error
  await t.rejects(OnnxDenoiser.create(file), { code: 'MODEL_LOAD', message: /does not exist/ })
  // a used-after-dispose denoiser is a clear error too
  await denoiser.dispose()
  await t.rejects(sample({ ...opts, denoiser, generator: createGenerator('philox', 9) }), { name: 'DiffuseError', code: 'DISPOSED' })
})
