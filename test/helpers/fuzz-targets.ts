/**
 * The parsers the SDK exposes to user files, as fuzz targets: each has seed inputs (valid files of
 * many variants), a mutator, and a `run` that feeds one input through the public API and checks that
 * what comes back is either a clean DiffuseError or a well-formed result (anything else is thrown as a
 * GarbageResult). The CI tests (test/fuzz-*.test.ts) and scripts/fuzz.ts share these definitions, so a
 * failure the long fuzzer records replays through exactly the same code in test/fuzz-regressions.test.ts.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { encode as encodePngRaw } from 'fast-png'
import { Tensor } from 'onnxruntime-common'
import { DiffuseError } from '../../src/errors.js'
import { GarbageResult, mutateBytes, mutateJsonBytes, pick, splice, textBytes, type Files, type Rng } from './fuzz.js'
import { buildModel, tinyUnet, DT } from './onnx-builder.js'
import { clipTokenizerJson } from '../../src/runtime/tokenizer.js'

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url))

export interface FuzzTarget {
  readonly name: string
  /** source files whose V8 block coverage guides scripts/fuzz.ts (substring match on the script URL) */
  readonly coverage: readonly string[]
  seeds(): Files[]
  mutate(input: Files, r: Rng, corpus: readonly Files[]): Files
  /** Runs one input; throws DiffuseError (a clean refusal) or anything else (a finding). `tmp` is a scratch folder. */
  run(input: Files, tmp: string): Promise<void>
}

function ensureDir(d: string): void {
  mkdirSync(d, { recursive: true })
}

/** Replaces `dir`'s content with `files` (names may contain sub-folders). */
function writeFiles(dir: string, files: Files): void {
  rmSync(dir, { recursive: true, force: true })
  ensureDir(dir)
  for (const [name, bytes] of Object.entries(files)) {
    const p = join(dir, name)
    ensureDir(join(p, '..'))
    writeFileSync(p, bytes)
  }
}

/** Byte mutation of one file of a multi-file input, JSON-aware for .json files; sometimes a file is dropped or spliced. */
function mutateFiles(input: Files, r: Rng, corpus: readonly Files[], jsonKeys: readonly string[]): Files {
  const names = Object.keys(input)
  const out: Files = { ...input }
  const name = pick(r, names)
  const roll = r()
  if (roll < 0.04 && names.length > 1) delete out[name]
  else if (roll < 0.1 && corpus.length) {
    const other = pick(r, corpus)
    if (other[name]) out[name] = splice(input[name]!, other[name], r)
  } else if (name.endsWith('.json')) out[name] = mutateJsonBytes(input[name]!, r, jsonKeys)
  else out[name] = mutateBytes(input[name]!, r)
  return out
}

function singleFileMutate(name: string) {
  return (input: Files, r: Rng, corpus: readonly Files[]): Files => {
    const b = input[name] ?? new Uint8Array(0)
    if (r() < 0.05 && corpus.length) return { [name]: splice(b, pick(r, corpus)[name] ?? new Uint8Array(0), r) }
    return { [name]: mutateBytes(b, r) }
  }
}

const finite = (xs: ArrayLike<number>): boolean => {
  for (let i = 0; i < xs.length; i++) if (!Number.isFinite(xs[i])) return false
  return true
}

// ---------------------------------------------------------------- WAV

/** A WAV file written by hand (not through the SDK's encoder), so the seeds cover every variant the reader claims. */
export function makeWav(opts: { format: 1 | 3; bits: number; channels: number; frames: number; rate?: number; extensible?: boolean; extraChunk?: boolean; oddChunk?: boolean }): Uint8Array {
  const { format, bits, channels, frames } = opts
  const width = bits / 8
  const fmtSize = opts.extensible ? 40 : 16
  const dataSize = frames * channels * width
  const chunks: Uint8Array[] = []
  const u8 = (n: number): Uint8Array => new Uint8Array(n)
  const head = u8(12)
  const hv = new DataView(head.buffer)
  head.set(textBytes('RIFF'), 0)
  head.set(textBytes('WAVE'), 8)
  chunks.push(head)
  if (opts.extraChunk) {
    const n = opts.oddChunk ? 5 : 6
    const c = u8(8 + n + (n % 2))
    c.set(textBytes('LIST'), 0)
    new DataView(c.buffer).setUint32(4, n, true)
    c.set(textBytes('INFOa'), 8)
    chunks.push(c)
  }
  const fmt = u8(8 + fmtSize)
  const fv = new DataView(fmt.buffer)
  fmt.set(textBytes('fmt '), 0)
  fv.setUint32(4, fmtSize, true)
  fv.setUint16(8, opts.extensible ? 0xfffe : format, true)
  fv.setUint16(10, channels, true)
  fv.setUint32(12, opts.rate ?? 16000, true)
  fv.setUint32(16, (opts.rate ?? 16000) * channels * width, true)
  fv.setUint16(20, channels * width, true)
  fv.setUint16(22, bits, true)
  if (opts.extensible) {
    fv.setUint16(24, 22, true)
    fv.setUint16(26, bits, true)
    fv.setUint32(28, channels === 1 ? 4 : 3, true)
    fv.setUint16(32, format, true)
    fmt.set([0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71], 34)
  }
  chunks.push(fmt)
  const data = u8(8 + dataSize)
  const dv = new DataView(data.buffer)
  data.set(textBytes('data'), 0)
  dv.setUint32(4, dataSize, true)
  for (let i = 0; i < frames * channels; i++) {
    const v = Math.sin(i * 0.37) * 0.8
    const o = 8 + i * width
    if (format === 3) bits === 32 ? dv.setFloat32(o, v, true) : dv.setFloat64(o, v, true)
    else if (bits === 8) data[o] = Math.round(v * 127) + 128
    else if (bits === 16) dv.setInt16(o, Math.round(v * 32767), true)
    else if (bits === 24) {
      const s = Math.round(v * 8388607)
      data[o] = s & 0xff
      data[o + 1] = (s >> 8) & 0xff
      data[o + 2] = (s >> 16) & 0xff
    } else dv.setInt32(o, Math.round(v * 2147483647), true)
  }
  chunks.push(data)
  const total = chunks.reduce((s, c) => s + c.length, 0)
  hv.setUint32(4, total - 8, true)
  const out = u8(total)
  let o = 0
  for (const c of chunks) {
    out.set(c, o)
    o += c.length
  }
  return out
}

export const wavTarget: FuzzTarget = {
  name: 'wav',
  coverage: ['modalities/audio/wav.ts'],
  seeds() {
    const seeds: Files[] = []
    const variants: [1 | 3, number][] = [
      [1, 8],
      [1, 16],
      [1, 24],
      [1, 32],
      [3, 32],
      [3, 64],
    ]
    for (const [format, bits] of variants) {
      for (const channels of [1, 2, 3]) {
        seeds.push({ 'in.wav': makeWav({ format, bits, channels, frames: 7 + channels }) })
      }
      seeds.push({ 'in.wav': makeWav({ format, bits, channels: 2, frames: 5, extensible: true, extraChunk: true, oddChunk: true }) })
    }
    const rec = join(repoRoot, 'test/fixtures/audio/recording.wav')
    if (existsSync(rec)) seeds.push({ 'in.wav': new Uint8Array(readFileSync(rec).subarray(0, 4096)) })
    return seeds
  },
  mutate: singleFileMutate('in.wav'),
  async run(input) {
    const { decodeWav } = await import('../../modalities/audio/wav.js')
    const audio = decodeWav(input['in.wav']!)
    if (!Number.isInteger(audio.sampleRate) || audio.sampleRate < 1 || audio.sampleRate > 1_000_000) throw new GarbageResult(`sample rate ${audio.sampleRate}`)
    if (!audio.channels.length) throw new GarbageResult('no channels')
    const n = audio.channels[0]!.length
    if (n < 1) throw new GarbageResult('no samples')
    for (const ch of audio.channels) {
      if (ch.length !== n) throw new GarbageResult('channels of different lengths')
      if (!finite(ch)) throw new GarbageResult('non-finite samples returned without an error')
    }
  },
}

// ---------------------------------------------------------------- PNG

export function pngSeeds(): Files[] {
  const seeds: Files[] = []
  const img = (w: number, h: number, channels: number, depth: 1 | 2 | 4 | 8 | 16, palette?: number[][]): void => {
    const perRow = depth < 8 ? Math.ceil((w * channels * depth) / 8) : w * channels
    const data = depth === 16 ? new Uint16Array(w * h * channels) : new Uint8Array(depth < 8 ? perRow * h : w * h * channels)
    for (let i = 0; i < data.length; i++) data[i] = (i * 37 + 11) % (depth === 16 ? 65536 : depth < 8 && palette ? 256 : 256)
    if (palette) for (let i = 0; i < data.length; i++) data[i] = depth === 8 ? i % palette.length : data[i]! & ((1 << (8 - (8 % depth))) - 1)
    seeds.push({ 'in.png': encodePngRaw({ width: w, height: h, data, channels, depth, ...(palette ? { palette } : {}) }) })
  }
  img(3, 2, 3, 8)
  img(4, 3, 4, 8)
  img(5, 2, 1, 8)
  img(3, 3, 2, 8)
  img(2, 2, 3, 16)
  img(2, 3, 4, 16)
  img(9, 2, 1, 1)
  img(5, 3, 1, 2)
  img(3, 3, 1, 4)
  img(3, 2, 1, 8, [
    [255, 0, 0],
    [0, 255, 0],
    [0, 0, 255],
  ])
  img(4, 2, 1, 8, [
    [255, 0, 0, 128],
    [0, 255, 0, 255],
  ])
  return seeds
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})

/** Rewrites every chunk's CRC so that a mutated file gets past the CRC check into the decoder proper. */
export function fixPngCrcs(b: Uint8Array): Uint8Array {
  const o = b.slice()
  const view = new DataView(o.buffer)
  let off = 8
  while (off + 12 <= o.length) {
    const len = view.getUint32(off)
    if (off + 12 + len > o.length) break
    let c = 0xffffffff
    for (let i = off + 4; i < off + 8 + len; i++) c = CRC_TABLE[(c ^ o[i]!) & 0xff]! ^ (c >>> 8)
    view.setUint32(off + 8 + len, (c ^ 0xffffffff) >>> 0)
    off += 12 + len
  }
  return o
}

export const pngTarget: FuzzTarget = {
  name: 'png',
  coverage: ['modalities/image/png.ts', 'fast-png'],
  seeds: pngSeeds,
  mutate(input, r, corpus) {
    const m = singleFileMutate('in.png')(input, r, corpus)
    // mostly structure-aware (valid CRCs, corrupt content); sometimes left with broken CRCs
    return r() < 0.85 ? { 'in.png': fixPngCrcs(m['in.png']!) } : m
  },
  async run(input) {
    const { decodePng } = await import('../../modalities/image/png.js')
    const img = decodePng(input['in.png']!)
    if (!Number.isInteger(img.width) || !Number.isInteger(img.height) || img.width < 1 || img.height < 1) throw new GarbageResult(`size ${img.width}x${img.height}`)
    if (img.data.length !== img.width * img.height * 3) throw new GarbageResult(`data length ${img.data.length} for ${img.width}x${img.height}`)
  },
}

// ---------------------------------------------------------------- scheduler configs

/** Every key any sampler class declares, plus class names: the JSON mutator draws from these. */
export const SCHEDULER_KEYS = [
  '_class_name',
  'num_train_timesteps',
  'beta_start',
  'beta_end',
  'beta_schedule',
  'trained_betas',
  'prediction_type',
  'timestep_spacing',
  'steps_offset',
  'set_alpha_to_one',
  'clip_sample',
  'clip_sample_range',
  'thresholding',
  'dynamic_thresholding_ratio',
  'sample_max_value',
  'rescale_betas_zero_snr',
  'variance_type',
  'use_karras_sigmas',
  'use_exponential_sigmas',
  'use_beta_sigmas',
  'sigma_min',
  'sigma_max',
  'sigma_data',
  'rho',
  's_churn',
  's_tmin',
  's_tmax',
  's_noise',
  'solver_order',
  'algorithm_type',
  'solver_type',
  'lower_order_final',
  'euler_at_final',
  'final_sigmas_type',
  'lambda_min_clipped',
  'skip_prk_steps',
  'predict_x0',
  'disable_corrector',
  'original_inference_steps',
  'timestep_scaling',
  'interpolation_type',
  'eta',
  '_use_default_values',
  'DDIMScheduler',
  'DDPMScheduler',
  'PNDMScheduler',
  'EulerDiscreteScheduler',
  'EulerAncestralDiscreteScheduler',
  'HeunDiscreteScheduler',
  'LMSDiscreteScheduler',
  'KDPM2DiscreteScheduler',
  'DPMSolverMultistepScheduler',
  'UniPCMultistepScheduler',
  'LCMScheduler',
  'DDIMInverseScheduler',
  'dpmsolver++',
  'sde-dpmsolver++',
  'midpoint',
  'bh2',
  'fixed_small',
  'learned_range',
  'zero',
  'sigma_min',
]

const SCHEDULER_CLASSES = SCHEDULER_KEYS.filter((k) => k.endsWith('Scheduler'))

export function schedulerSeeds(): Files[] {
  const base = { beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', num_train_timesteps: 1000 }
  const seeds: Files[] = SCHEDULER_CLASSES.map((c) => ({ 'scheduler_config.json': textBytes(JSON.stringify({ _class_name: c, ...base })) }))
  seeds.push({ 'scheduler_config.json': textBytes(JSON.stringify({ _class_name: 'DPMSolverMultistepScheduler', ...base, use_karras_sigmas: true, algorithm_type: 'sde-dpmsolver++', solver_order: 3 })) })
  seeds.push({ 'scheduler_config.json': textBytes(JSON.stringify({ _class_name: 'EulerDiscreteScheduler', ...base, timestep_spacing: 'trailing', prediction_type: 'v_prediction', rescale_betas_zero_snr: true })) })
  seeds.push({ 'scheduler_config.json': textBytes(JSON.stringify({ _class_name: 'DDPMScheduler', trained_betas: [0.001, 0.01, 0.02, 0.05, 0.1, 0.2], num_train_timesteps: 6, variance_type: 'fixed_small' })) })
  const sd = join(repoRoot, 'test/fixtures/image/tiny-sd-a/scheduler/scheduler_config.json')
  if (existsSync(sd)) seeds.push({ 'scheduler_config.json': new Uint8Array(readFileSync(sd)) })
  return seeds
}

/** How many accepted configs produced a plan with non-finite numbers (reported by the fuzz tests). */
export const nonFinitePlans = { count: 0 }

/** Parses a config the way readModelFolder does (JSON object with a _class_name), then samples a tiny problem with it. */
async function exerciseScheduler(config: Record<string, unknown>, steps: number): Promise<void> {
  const { createSampler } = await import('../../src/core/samplers/registry.js')
  const { sample } = await import('../../src/core/loop.js')
  const { functionDenoiser } = await import('../../src/core/denoiser.js')
  const { referenceKernels } = await import('../../src/native/reference.js')
  const { createGenerator } = await import('../../src/core/rng/index.js')
  const sampler = createSampler(config as { _class_name: string })
  const plan = sampler.plan(steps)
  if (!(plan.timesteps instanceof Float64Array) || plan.timesteps.length < 1) throw new GarbageResult('plan has no timesteps')
  // A plan with non-finite timesteps/sigmas (e.g. KDPM2 with beta_start 0, LMS with a zero-SNR terminal
  // step) is not rejected by the sampler itself; the loop must then stop with NON_FINITE at the first step.
  // Counted here so the fuzzer can report how often the config check lets such a plan through.
  if (!finite(plan.timesteps) || !Number.isFinite(plan.initNoiseSigma)) nonFinitePlans.count++
  // a denoiser with a closed-form answer for Gaussian data: the loop's NaN detection must catch anything non-finite
  const den = functionDenoiser((x) => x.map((v) => v * 0.1))
  const res = await sample({ denoiser: den, sampler, steps, shape: [1, 5], generator: createGenerator('philox', 7), kernels: referenceKernels })
  if (res.sample.length !== 5 || !finite(res.sample)) throw new GarbageResult(`sample() returned ${Array.from(res.sample)} without an error`)
}

export const schedulerTarget: FuzzTarget = {
  name: 'scheduler',
  coverage: ['src/core/samplers/', 'src/core/schedules.ts', 'src/core/loop.ts'],
  seeds: schedulerSeeds,
  mutate(input, r, corpus) {
    return mutateFiles(input, r, corpus, SCHEDULER_KEYS)
  },
  async run(input, tmp) {
    const { readJsonObject } = await import('../../src/runtime/json-file.js')
    ensureDir(tmp)
    const p = join(tmp, 'scheduler_config.json')
    writeFileSync(p, input['scheduler_config.json'] ?? new Uint8Array(0))
    const config = await readJsonObject(p)
    // the step count is part of the input (its first byte), so step-count edge cases are fuzzed too
    const b = input['scheduler_config.json'] ?? new Uint8Array(0)
    const steps = 1 + ((b[b.length - 1] ?? 0) % 12)
    await exerciseScheduler(config, steps)
  },
}

// ---------------------------------------------------------------- model folders

const MODEL_KEYS = [
  ...SCHEDULER_KEYS,
  'modality',
  'name',
  'defaults',
  'steps',
  'guidance',
  'sampler',
  'guidanceRescale',
  'width',
  'height',
  'unet',
  'scheduler',
  'text_encoder',
  'tokenizer',
  'vae_decoder',
  'vae_encoder',
  '_diffusers_version',
  'diffusers',
  'OnnxRuntimeModel',
  'DDIM',
  'Euler a',
  'DPM++ 2M Karras',
]

export function modelFolderSeeds(): Files[] {
  const index = { _class_name: 'OnnxStableDiffusionPipeline', unet: ['diffusers', 'OnnxRuntimeModel'], scheduler: ['diffusers', 'DDIMScheduler'], text_encoder: [null, null] }
  const seeds: Files[] = []
  for (const s of schedulerSeeds().slice(0, 6)) {
    seeds.push({
      'model_index.json': textBytes(JSON.stringify(index)),
      'scheduler/scheduler_config.json': s['scheduler_config.json']!,
      'diffusekit.json': textBytes(JSON.stringify({ modality: 'audio', name: 'fuzz', defaults: { steps: 3, guidance: 2, sampler: 'DDIM' } })),
      'unet/model.onnx': new Uint8Array(16),
    })
  }
  seeds.push({
    'scheduler/scheduler_config.json': schedulerSeeds()[0]!['scheduler_config.json']!,
    'diffusekit.json': textBytes(JSON.stringify({ modality: 'image', defaults: { steps: 2, sampler: 'Euler a', guidanceRescale: 0.7 } })),
    'unet/model.onnx': new Uint8Array(16),
  })
  return seeds
}

export const modelFolderTarget: FuzzTarget = {
  name: 'model-folder',
  coverage: ['src/runtime/model-folder.ts', 'src/runtime/json-file.ts', 'src/runtime/pipeline.ts', 'src/core/samplers/'],
  seeds: modelFolderSeeds,
  mutate(input, r, corpus) {
    return mutateFiles(input, r, corpus, MODEL_KEYS)
  },
  async run(input, tmp) {
    const { readModelFolder } = await import('../../src/runtime/model-folder.js')
    const { resolveRun } = await import('../../src/runtime/pipeline.js')
    const dir = join(tmp, 'model')
    writeFiles(dir, input)
    const model = await readModelFolder(dir)
    if (!model.has('unet')) throw new GarbageResult('model without a unet accepted')
    // what a pipeline does with the folder before touching ONNX: defaults + sampler + generator
    const run = resolveRun(model, { seed: 1 })
    if (!Number.isInteger(run.steps) || run.steps < 1 || !Number.isFinite(run.guidance)) throw new GarbageResult(`resolved steps ${run.steps}, guidance ${run.guidance}`)
    await exerciseScheduler(run.sampler.toJSON(), Math.min(run.steps, 12))
  },
}

// ---------------------------------------------------------------- ONNX

/** Small unet-interface graphs in every variant the denoiser supports, plus a few other op mixes. */
export function onnxSeeds(): Files[] {
  const seeds: Files[] = [
    { 'model.onnx': tinyUnet({ timestep: 'float32', channels: 2 }) },
    { 'model.onnx': tinyUnet({ timestep: 'int64', channels: 2 }) },
    { 'model.onnx': tinyUnet({ timestep: 'float32-scalar', channels: 2 }) },
    { 'model.onnx': tinyUnet({ timestep: 'float32', channels: 2, condition: 'class_labels' }) },
    { 'model.onnx': tinyUnet({ timestep: 'int64', channels: 2, condition: 'encoder_hidden_states' }) },
  ]
  seeds.push({
    'model.onnx': buildModel({
      inputs: [
        { name: 'sample', type: DT.float, shape: ['batch', 2, 2, 2] },
        { name: 'timestep', type: DT.float, shape: ['batch'] },
      ],
      outputs: [{ name: 'out_sample', type: DT.float, shape: ['batch', 2, 2, 2] }],
      nodes: [
        { op: 'MatMul', inputs: ['sample', 'w'], outputs: ['m'] },
        { op: 'Tanh', inputs: ['m'], outputs: ['out_sample'] },
      ],
      initializers: [{ name: 'w', type: DT.float, dims: [2, 2], values: [0.5, -0.25, 0.125, 1] }],
    }),
  })
  // a real exported graph (Optimum VAE decoder of the tiny test pipeline, 113 KB): convolutions, resizes,
  // group norms — corrupting its initializers and shapes reaches much more of onnxruntime than tiny graphs
  const vae = join(repoRoot, 'test/fixtures/image/tiny-sd-a/vae_decoder/model.onnx')
  if (existsSync(vae) && process.env.DK_FUZZ_ONNX_REAL === '1') seeds.push({ 'model.onnx': new Uint8Array(readFileSync(vae)) })
  return seeds
}

const OPS = ['Add', 'Mul', 'Sub', 'Div', 'MatMul', 'Reshape', 'Cast', 'Tanh', 'Log', 'Sqrt', 'Exp', 'Slice', 'Concat', 'Gather', 'Expand', 'Tile', 'Transpose', 'ReduceMean', 'Identity', 'Conv', 'Pad', 'Resize', 'Unsqueeze', 'Where', 'NoSuchOp']
const DIMS: (number | string)[] = ['batch', 2, 1, 0, -1, 3, 'h', 2 ** 31 - 1, 2 ** 40]

/**
 * A random graph with the unet's input/output names: random ops, attributes, types, declared shapes
 * and initializers whose dims need not match their values (the framing is valid, the content is not).
 */
export function randomOnnx(r: Rng): Uint8Array {
  const types = [DT.float, DT.float, DT.int64, DT.int32, 11, 16, 0, 99]
  const shape = (): (number | string)[] | undefined => (r() < 0.1 ? undefined : Array.from({ length: Math.floor(r() * 5) }, () => pick(r, DIMS)))
  const names = ['sample', 'timestep', 'w', 'k']
  const nodes = []
  const n = 1 + Math.floor(r() * 4)
  for (let i = 0; i < n; i++) {
    const out = i === n - 1 ? 'out_sample' : `v${i}`
    const attrs: Record<string, number | number[] | string> = {}
    if (r() < 0.4) attrs[pick(r, ['to', 'axis', 'axes', 'perm', 'keepdims', 'mode', 'pads', 'kernel_shape'])] = pick(r, [1, 0, -1, 7, 99, 2 ** 31, [0, 1], [-5, 9, 2 ** 40], 'nearest', ''] as const) as number
    const arity = Math.floor(r() * 4)
    nodes.push({ op: pick(r, OPS), inputs: Array.from({ length: arity }, () => pick(r, names)), outputs: [out], attrs })
    names.push(out)
  }
  const init = (name: string) => {
    const dims = Array.from({ length: Math.floor(r() * 3) }, () => pick(r, [0, 1, 2, 3, -1, 4096]))
    const count = r() < 0.7 ? dims.reduce((a, b) => a * Math.max(b, 0), 1) : Math.floor(r() * 5)
    const type = pick(r, [DT.float, DT.int64, DT.int32])
    const pool = type === DT.float ? [0, 1, -1, 0.5, 1e30, -3] : [0, 1, -1, 2, -3, 2 ** 31 - 1]
    return { name, type, dims, values: Array.from({ length: Math.min(count, 64) }, () => pick(r, pool)) }
  }
  return buildModel({
    inputs: [
      { name: 'sample', type: pick(r, types), ...(shape() ? { shape: shape()! } : {}) },
      { name: 'timestep', type: pick(r, types), ...(shape() ? { shape: shape()! } : {}) },
    ],
    outputs: [{ name: pick(r, ['out_sample', 'out_sample', 'other']), type: pick(r, types), ...(shape() ? { shape: shape()! } : {}) }],
    nodes,
    initializers: [init('w'), init('k')],
    opset: pick(r, [17, 17, 13, 1, 99, 0]),
  })
}

export const onnxTarget: FuzzTarget = {
  name: 'onnx',
  coverage: ['src/runtime/onnx.ts', 'src/runtime/onnx-denoiser.ts'],
  seeds: onnxSeeds,
  mutate(input, r, corpus) {
    // half generative (valid protobuf framing, invalid content), half byte-level corruption
    if (r() < 0.5) return { 'model.onnx': randomOnnx(r) }
    return singleFileMutate('model.onnx')(input, r, corpus)
  },
  async run(input, tmp) {
    const { OnnxDenoiser } = await import('../../src/runtime/onnx-denoiser.js')
    const ort = await import('onnxruntime-node')
    // onnxruntime logs every rejected graph to stderr; the fuzzer only wants the SDK's errors
    ort.env.logLevel = 'fatal'
    ensureDir(tmp)
    const file = join(tmp, 'model.onnx')
    writeFileSync(file, input['model.onnx'] ?? new Uint8Array(0))
    let den
    try {
      den = await OnnxDenoiser.create(file, { threads: 1 })
    } catch (e) {
      // a loadable graph without the unet interface (e.g. the real VAE seed): still run it once with zero
      // inputs of the declared types (symbolic dims = 1), the way the VAE/text-encoder wrappers feed it;
      // onnxruntime's own errors are refusals here, only a crash or hang is a finding
      if ((e as { code?: string }).code !== 'MODEL_IO') throw e
      const { createSession } = await import('../../src/runtime/onnx.js')
      const session = await createSession(file, { threads: 1 })
      try {
        const feeds: Record<string, Tensor> = {}
        for (const m of session.inputMetadata) {
          if (!m.isTensor) continue
          const dims = m.shape.map((d) => (typeof d === 'number' && d > 0 && d <= 64 ? d : 1))
          const n = dims.reduce((a, b) => a * b, 1)
          feeds[m.name] = m.type === 'int64' ? new Tensor('int64', new BigInt64Array(n), dims) : m.type === 'int32' ? new Tensor('int32', new Int32Array(n), dims) : new Tensor('float32', new Float32Array(n), dims)
        }
        await session.run(feeds).catch((err: Error) => {
          throw new DiffuseError('MODEL_IO', `run failed: ${err.message}`)
        })
      } finally {
        await session.release()
      }
      return
    }
    try {
      // a loaded model is also run once: corrupt-but-loadable graphs are where a runtime could crash
      const x = new Tensor('float32', new Float32Array(16).map((_, i) => i / 16), [2, 2, 2, 2])
      const cond: Record<string, Tensor> = {
        class_labels: new Tensor('int64', BigInt64Array.of(1n, 2n), [2]),
        encoder_hidden_states: new Tensor('float32', new Float32Array(2 * 3 * 4), [2, 3, 4]),
      }
      const out = await den.predict(x, 500, cond)
      if (!out || !(out.data instanceof Float32Array || ArrayBuffer.isView(out.data))) throw new GarbageResult('predict returned no tensor')
    } finally {
      await den.dispose()
    }
  },
}

// ---------------------------------------------------------------- tokenizer

const TOKENIZER_KEYS = ['model_max_length', 'bos_token', 'eos_token', 'pad_token', 'unk_token', 'content', '<|startoftext|>', '<|endoftext|>', '!', 'a</w>', 'model', 'vocab', 'merges', 'type', 'BPE', 'added_tokens', 'normalizer', 'pre_tokenizer', 'decoder', 'id', 'special']
const PROMPTS = ['a red apple', 'An emoji of a SMILING cat!! ', '', 'ünïcödé 🙂 text\twith\nspaces', "it's a dog's life", 'x'.repeat(200)]

export function tokenizerSeeds(): Files[] {
  const seeds: Files[] = []
  const dir = join(repoRoot, 'test/fixtures/image/tiny-sd-a/tokenizer')
  if (existsSync(dir)) {
    const files: Files = {}
    for (const f of readdirSync(dir)) files[f] = new Uint8Array(readFileSync(join(dir, f)))
    seeds.push(files)
  }
  const bytesVocab: Record<string, number> = {}
  const letters = 'abcdefghijklmnopqrstuvwxyz'.split('')
  let id = 0
  for (const c of letters) bytesVocab[c] = id++
  for (const c of letters) bytesVocab[c + '</w>'] = id++
  bytesVocab['an</w>'] = id++
  bytesVocab['<|startoftext|>'] = id++
  bytesVocab['<|endoftext|>'] = id++
  seeds.push({ 'vocab.json': textBytes(JSON.stringify(bytesVocab)), 'merges.txt': textBytes('#version: 0.2\na n</w>\n'), 'tokenizer_config.json': textBytes(JSON.stringify({ model_max_length: 8 })) })
  // the other file form: a tokenizers-library tokenizer.json (what CLIPTokenizerFast saves)
  seeds.push({ 'tokenizer.json': textBytes(JSON.stringify(clipTokenizerJson(bytesVocab, ['a n</w>']))), 'special_tokens_map.json': textBytes(JSON.stringify({ pad_token: '<|endoftext|>' })) })
  return seeds
}

export const tokenizerTarget: FuzzTarget = {
  name: 'tokenizer',
  coverage: ['src/runtime/tokenizer.ts'],
  seeds: tokenizerSeeds,
  mutate(input, r, corpus) {
    return mutateFiles(input, r, corpus, TOKENIZER_KEYS)
  },
  async run(input, tmp) {
    const { ClipTokenizer } = await import('../../src/runtime/tokenizer.js')
    const dir = join(tmp, 'tokenizer')
    writeFiles(dir, input)
    const tok = await ClipTokenizer.fromFolder(dir)
    for (const p of PROMPTS) {
      const { ids } = tok.encode(p)
      if (ids.length !== tok.maxLength) throw new GarbageResult(`encode gave ${ids.length} ids for maxLength ${tok.maxLength}`)
      if (ids[0] !== tok.bosId) throw new GarbageResult('first id is not BOS')
      // ids must be valid vocabulary ids (vocab.json may leave gaps, so the bound is the largest id, not the count)
      for (const v of ids) if (!Number.isInteger(v) || v < 0 || v > 2 ** 31 - 1) throw new GarbageResult(`id ${v} is not a vocabulary id`)
      if (typeof tok.decode(ids) !== 'string') throw new GarbageResult('decode did not return a string')
    }
  },
}

// ---------------------------------------------------------------- registry

export const targets: Record<string, FuzzTarget> = {
  wav: wavTarget,
  png: pngTarget,
  scheduler: schedulerTarget,
  json: schedulerTarget,
  'model-folder': modelFolderTarget,
  onnx: onnxTarget,
  tokenizer: tokenizerTarget,
}

