/**
 * This SDK against Python on the same CPU, side by side in one run: for each bundled model, the default
 * generation's sampling loop (same network weights, same sampler, same steps, guidance, initial noise) in
 *   1. diffusekit (OnnxDenoiser + sample(), the SDK's defaults),
 *   2. Python onnxruntime on the same ONNX files with a numpy sampler loop,
 *   3. PyTorch running the training recipes' torch modules (training/audio/unet.py, training/image/
 *      sd_modules.py, training/shapes/model.py) with the weights read back from the ONNX initializers,
 *      and a torch sampler loop.
 * Models: speech, music, emoji (text encoder + VAE decode), shapes; each with its model folder's default
 * sampler, steps and guidance (diffusekit.json + scheduler_config.json, read at run time). The Python
 * samplers are bench/reference/loop.py's own implementations of diffusers' update rules, handed the SDK's
 * effective scheduler config; each side's final sample is compared with the SDK's (max |Δx|), and each
 * side's network alone with the SDK's first model call (max |Δ out|).
 *
 *   npx tsx bench/reference.ts                  (a few minutes on 2 cores)
 * Environment:
 *   BENCH_REPS=1              timed generations after one warm-up (default 3; median reported)
 *   BENCH_THREADS=16          onnxruntime intra-op threads on both onnxruntime sides, torch.set_num_threads,
 *                             and the SDK's native kernel threads (default: the SDK's defaultThreads())
 *   BENCH_MODELS=speech,emoji only these models
 *   BENCH_SIDES=ort,torch     which Python sides to run besides the SDK (default both; empty: the SDK alone)
 *   BENCH_TORCH_MODELS=speech PyTorch only for these models (empty: no PyTorch run)
 *   BENCH_PYTHON_ORT=python3  interpreter with onnxruntime + numpy (default python3)
 *   BENCH_PYTHON_TORCH=...    interpreter with torch + onnx (default /usr/bin/python3 when it exists, else python3)
 *   BENCH_DEADLINE=<unix s>   a time budget: fewer repetitions, then skipped sides, rather than running past it
 *   BENCH_JSON=out.json       write the raw results (rewritten after every side, so a killed run keeps them)
 *   BENCH_TRAINING=dir        where loop.py imports the torch modules from (default <package>/training)
 *   BENCH_MODELS_DIR=dir      the folder holding the model folders (default <package>/models)
 *   BENCH_KEEP_INPUTS=f.json  keep loop.py's input file (to rerun a Python side by hand)
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Tensor } from 'onnxruntime-common'
import type { Conditioning, Denoiser } from '../src/core/denoiser.js'
import { sample } from '../src/core/loop.js'
import { philox } from '../src/core/rng/index.js'
import { createSampler } from '../src/core/samplers/registry.js'
import type { Sampler } from '../src/core/samplers/types.js'
import { getKernels, nativeInfo, setNativeThreads } from '../src/native/loader.js'
import { readModelFolder } from '../src/runtime/model-folder.js'
import { OnnxDenoiser } from '../src/runtime/onnx-denoiser.js'
import { defaultThreads } from '../src/runtime/onnx.js'
import { packageRoot } from '../src/runtime/package-root.js'
import { ClipTokenizer } from '../src/runtime/tokenizer.js'
import { loadPipeline as loadImage } from '../modalities/image/index.js'

const REPS = Number(process.env['BENCH_REPS'] ?? 3)
const THREADS = Number(process.env['BENCH_THREADS'] || defaultThreads())
const ROOT = packageRoot()
const DEADLINE = Number(process.env['BENCH_DEADLINE'] || 0) // unix seconds, 0: none
const MODELS = ['speech', 'music', 'emoji', 'shapes']
/** where the model folders are (default: the package's models/) */
const MODELS_DIR = process.env['BENCH_MODELS_DIR'] || join(ROOT, 'models')

function loopPy(): string {
  // from the sources (bench/reference.ts) or a bundle (<root>/bench-dist/reference.mjs)
  const here = fileURLToPath(new URL('./reference/loop.py', import.meta.url))
  return existsSync(here) ? here : join(ROOT, 'bench', 'reference', 'loop.py')
}

interface ModelInputs {
  name: string
  dir: string
  shape: number[]
  steps: number
  guidance: number
  sampler: string
  /** the sampler's effective diffusers config (the SDK's toJSON after resolving the default sampler name) */
  scheduler: Record<string, unknown>
  /** the SDK's plan: what the Python samplers' own plans are checked against */
  plan: { timesteps: number[]; sigmas?: number[]; initNoiseSigma: number }
  /** float32 arrays travel as base64 of their bytes (b64) */
  noise: string
  cond?: number[]
  uncond?: number[]
  condIds?: number[]
  uncondIds?: number[]
  /** the two-stage shapes decoder's shape latent (flattened) and its shape without the batch */
  latent?: number[]
  latentShape?: number[]
  /** the SDK's first model call: input (both guidance halves), timestep, output */
  probe?: { x: string; shape: number[]; t: number; out: string }
  /** every sampler step of the SDK's first generation: x before it, the guidance halves, x after it */
  trace?: { x: string; u?: string; c?: string; guided?: string; prev: string }[]
  sdk: string
}

function b64(a: Float32Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64')
}

/** records each step of a sampler instance (input sample, model output halves, result) */
function traced(sampler: Sampler, trace: NonNullable<ModelInputs['trace']>): Sampler {
  const step = sampler.step.bind(sampler)
  sampler.step = async (input) => {
    const r = await step(input)
    const mo = input.modelOutput
    const outs = mo instanceof Float32Array ? { guided: b64(mo) } : { u: b64(Float32Array.from(mo.uncond)), c: b64(Float32Array.from(mo.cond)) }
    trace.push({ x: b64(Float32Array.from(input.sample)), ...outs, prev: b64(Float32Array.from(r.prevSample)) })
    return r
  }
  return sampler
}

export interface SdkTiming {
  loop: number
  model: number
  /** CPU time of this process over the loop (user + system, all threads), ms */
  cpu: number
  reps: number
  loadS: number
  evals: number
  note?: string
}

export interface PyResult {
  model: string
  backend: string
  error?: string
  skipped?: string
  loop?: number
  loop_cpu?: number
  model_ms?: number
  sampler?: number
  text?: number
  decode?: number
  diff?: number
  ref_max?: number
  model_diff?: number | null
  model_ref_max?: number | null
  /** the Python sampler fed the SDK's own x and model outputs step by step: max |Δ| of its results */
  step_diff?: number | string
  plan_t_diff?: number | string
  plan_sigma_diff?: number | string
  init_sigma_diff?: number
  load_s?: number
  reps?: number
  evals?: number
  net?: string
  note?: string
  cpus_allowed?: number
}

function now(): number {
  return Date.now() / 1000
}

function left(): number {
  return DEADLINE ? DEADLINE - now() : Infinity
}

/** the SDK's denoiser with its predict calls timed from the outside; the first call recorded */
function timed(inner: Denoiser, acc: { ms: number; calls: number; probe?: ModelInputs['probe'] }): Denoiser {
  return {
    ...(inner.predictionType ? { predictionType: inner.predictionType } : {}),
    async predict(x, t, c) {
      const t0 = performance.now()
      let out: Tensor | undefined
      try {
        out = (await inner.predict(x, t, c)) as Tensor
        return out
      } finally {
        acc.ms += performance.now() - t0
        if (acc.calls++ === 0 && !acc.probe && out) {
          acc.probe = { x: b64(x.data as Float32Array), shape: [...x.dims], t, out: b64(out.data as Float32Array) }
        }
      }
    },
  }
}

function unetPresent(dir: string): boolean {
  const f = join(dir, 'unet', 'model.onnx')
  return existsSync(f) && statSync(f).size > 1024
}

async function sdkSide(name: string): Promise<{ inputs: ModelInputs; timing: SdkTiming } | string> {
  const dir = join(MODELS_DIR, name)
  if (!unetPresent(dir)) return `${dir}/unet/model.onnx is not there`
  const folder = await readModelFolder(dir)
  const d = folder.config.defaults ?? {}
  const steps = d.steps ?? 25
  const guidance = d.guidance ?? 1
  const samplerName = String(d.sampler ?? folder.scheduler!['_class_name'])
  const makeSampler = () => (d.sampler ? createSampler(d.sampler, folder.scheduler!) : createSampler(folder.scheduler!))
  let shape: number[]
  let cond: Conditioning
  let uncond: Conditioning
  const extra: Partial<ModelInputs> = {}
  if (name === 'speech' || name === 'music') {
    const rep = folder.config['representation'] as { nMels: number; frames: number }
    const cols = (folder.config['classLabels'] as { columns: { size: number }[] }).columns
    shape = [1, 1, rep.nMels, rep.frames]
    extra.cond = [1, 0]
    extra.uncond = cols.map((c) => c.size)
    cond = { class_labels: new Tensor('int64', BigInt64Array.from(extra.cond.map(BigInt)), [1, 2]) }
    uncond = { class_labels: new Tensor('int64', BigInt64Array.from(extra.uncond.map(BigInt)), [1, 2]) }
  } else if (name === 'emoji') {
    shape = [1, 4, 16, 16]
    const pipe = await loadImage(dir, { device: 'cpu', threads: THREADS })
    cond = { encoder_hidden_states: await pipe.encodePrompts(['red apple']) }
    uncond = { encoder_hidden_states: await pipe.encodePrompts(['']) }
    await pipe.dispose()
    const tok = await ClipTokenizer.fromFolder(join(dir, 'tokenizer'), { maxLength: 32 })
    extra.condIds = Array.from(tok.encode('red apple').ids)
    extra.uncondIds = Array.from(tok.encode('').ids)
  } else if (name === 'shapes') {
    shape = [1, Number(folder.config['channels'] ?? 6), Number(folder.config['points'] ?? 2048)]
    const latentShape = folder.config['latentShape'] as number[] | undefined
    if (latentShape) {
      // two-stage: the timed loop is the point decoder's (the prior's 16 x 16 latent costs little); one latent for both halves
      extra.latentShape = latentShape
      extra.latent = Array.from(philox(3).randn([1, ...latentShape]))
      cond = { shape_latent: new Tensor('float32', Float32Array.from(extra.latent), [1, ...latentShape]) }
      uncond = cond
    } else {
      extra.cond = [7] // chair
      extra.uncond = [Number(folder.config['nullClassLabel'] ?? (folder.config['classes'] as unknown[]).length)]
      cond = { class_labels: new Tensor('int64', BigInt64Array.from(extra.cond.map(BigInt)), [1]) }
      uncond = { class_labels: new Tensor('int64', BigInt64Array.from(extra.uncond.map(BigInt)), [1]) }
    }
  } else {
    return `unknown model ${name}`
  }
  const noise = philox(1).randn(shape)
  const prediction = folder.scheduler?.['prediction_type']
  const t0 = performance.now()
  const den = await OnnxDenoiser.create(folder.file('unet'), {
    device: 'cpu',
    threads: THREADS,
    ...(prediction === 'epsilon' || prediction === 'v_prediction' || prediction === 'sample' ? { predictionType: prediction } : {}),
  })
  const loadS = (performance.now() - t0) / 1000
  const acc: { ms: number; calls: number; probe?: ModelInputs['probe'] } = { ms: 0, calls: 0 }
  const kernels = getKernels('cpu')
  const trace: NonNullable<ModelInputs['trace']> = []
  const once = async (record = false): Promise<{ loop: number; model: number; cpu: number; out: Float32Array }> => {
    acc.ms = 0
    const c0 = process.cpuUsage()
    const sampler = record ? traced(makeSampler(), trace) : makeSampler()
    const t1 = performance.now()
    const r = await sample({ denoiser: timed(den, acc), sampler, steps, shape, generator: philox(2), noise, conditioning: cond, unconditional: uncond, guidanceScale: guidance, kernels })
    const loop = performance.now() - t1
    const c = process.cpuUsage(c0)
    return { loop, model: acc.ms, cpu: (c.user + c.system) / 1000, out: r.sample }
  }
  const w0 = performance.now()
  const first = await once(true)
  const took = (performance.now() - w0) / 1000
  const reps = Math.max(0, Math.min(REPS, Math.floor(left() / Math.max(took, 1e-3))))
  const runs: { loop: number; model: number; cpu: number }[] = []
  for (let i = 0; i < reps; i++) runs.push(await once())
  await den.dispose()
  runs.sort((a, b) => a.loop - b.loop)
  const pick = runs.length ? runs[Math.floor(runs.length / 2)]! : first
  const sampler = makeSampler()
  const plan = sampler.plan(steps)
  return {
    inputs: {
      name,
      dir,
      shape,
      steps,
      guidance,
      sampler: samplerName,
      scheduler: sampler.toJSON() as Record<string, unknown>,
      plan: { timesteps: Array.from(plan.timesteps), ...(plan.sigmas ? { sigmas: Array.from(plan.sigmas) } : {}), initNoiseSigma: plan.initNoiseSigma },
      noise: b64(noise),
      sdk: b64(first.out),
      ...(acc.probe ? { probe: acc.probe } : {}),
      trace,
      ...extra,
    },
    timing: { loop: pick.loop, model: pick.model, cpu: pick.cpu, reps: runs.length, loadS, evals: plan.timesteps.length, ...(runs.length ? {} : { note: 'time budget: the warm-up generation is the timing' }) },
  }
}

function python(exe: string, mode: string, inputs: string, env: Record<string, string>): { results: Record<string, PyResult>; error?: string } {
  const parse = (out: string): Record<string, PyResult> => {
    const results: Record<string, PyResult> = {}
    for (const line of out.split('\n')) {
      if (!line.startsWith('{')) continue
      try {
        const r = JSON.parse(line) as PyResult
        results[r.model] = r
      } catch {
        // a line cut short by a kill
      }
    }
    return results
  }
  const budget = left()
  if (budget < 5) return { results: {}, error: 'skipped: time budget spent' }
  try {
    const out = execFileSync(exe, [loopPy(), mode, inputs], {
      env: { ...process.env, ...env, BENCH_REPS: String(REPS), BENCH_THREADS: String(THREADS), OMP_NUM_THREADS: String(THREADS), ...(DEADLINE ? { BENCH_DEADLINE: String(DEADLINE) } : {}) },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 1 << 26,
      ...(Number.isFinite(budget) ? { timeout: Math.ceil((budget + 10) * 1000), killSignal: 'SIGKILL' as const } : {}),
    })
    return { results: parse(out) }
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string; signal?: string }
    const results = parse(err.stdout ?? '')
    const done = Object.keys(results)
    const why = err.signal === 'SIGKILL' ? `killed at the time budget${done.length ? ` (after its results for ${done.join(', ')})` : ''}` : (err.stderr || err.message).trim().split('\n').slice(-3).join(' / ')
    return { results, error: why }
  }
}

function f(ms: number | undefined | null): string {
  return ms === undefined || ms === null ? '—' : ms >= 100 ? ms.toFixed(0) : ms.toFixed(1)
}

function e1(v: number | string | undefined | null): string {
  return v === undefined || v === null ? '—' : typeof v === 'string' ? v : v.toExponential(1)
}

export interface ReferenceReport {
  machine: Record<string, unknown>
  models: { name: string; steps: number; evals?: number; sampler: string; guidance: number; scheduler: Record<string, unknown> }[]
  sdk: Record<string, SdkTiming | string>
  ort: { results: Record<string, PyResult>; error?: string }
  torch: { results: Record<string, PyResult>; error?: string }
}

export async function runReference(): Promise<ReferenceReport> {
  setNativeThreads(THREADS)
  const machine = {
    cpus: cpus().length,
    availableParallelism: availableParallelism(),
    cpu: cpus()[0]?.model ?? '?',
    node: process.version,
    addon: nativeInfo().loaded ? `loaded from ${nativeInfo().path} (${nativeInfo().simd}, ${nativeInfo().threads} threads)` : 'not loaded',
    models: MODELS_DIR,
    threads: THREADS,
    reps: REPS,
    loadavg: loadavg(),
  }
  console.log(`# SDK vs Python on this CPU: ${machine.availableParallelism} of ${machine.cpus} × ${machine.cpu} usable, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`)
  console.log(`# node ${process.version}, native addon ${machine.addon}; median of ${REPS} after a warm-up; ${THREADS} threads on every side (onnxruntime: the SDK's session defaults, explicit threads and no spinning, in both; torch.set_num_threads(${THREADS}))`)
  const only = process.env['BENCH_MODELS']?.split(',').filter(Boolean)
  const sides = (process.env['BENCH_SIDES'] ?? 'ort,torch').split(',')
  const jsonOut = process.env['BENCH_JSON']
  const report: ReferenceReport = { machine, models: [], sdk: {}, ort: { results: {} }, torch: { results: {} } }
  const save = () => jsonOut && writeFileSync(jsonOut, JSON.stringify(report, null, 1))
  const dir = mkdtempSync(join(tmpdir(), 'diffusekit-ref-'))
  try {
    const models: ModelInputs[] = []
    for (const name of MODELS) {
      if (only && !only.includes(name)) continue
      if (left() < 5) {
        report.sdk[name] = 'skipped: time budget spent'
        continue
      }
      let s: Awaited<ReturnType<typeof sdkSide>>
      try {
        s = await sdkSide(name)
      } catch (e) {
        s = `error: ${(e as Error).message.split('\n')[0]}`
      }
      if (typeof s === 'string') {
        console.log(`${name}: not compared (${s})`)
        report.sdk[name] = s
        continue
      }
      models.push(s.inputs)
      report.sdk[name] = s.timing
      report.models.push({ name, steps: s.inputs.steps, evals: s.timing.evals, sampler: s.inputs.sampler, guidance: s.inputs.guidance, scheduler: s.inputs.scheduler })
      save()
    }
    let vaeScaling = 1
    const vaeCfg = join(MODELS_DIR, 'emoji/vae_decoder/config.json')
    if (existsSync(vaeCfg)) vaeScaling = (JSON.parse(readFileSync(vaeCfg, 'utf8')) as { scaling_factor?: number }).scaling_factor ?? 1
    const file = join(dir, 'inputs.json')
    writeFileSync(file, JSON.stringify({ models, vaeScaling }))
    if (process.env['BENCH_KEEP_INPUTS']) writeFileSync(process.env['BENCH_KEEP_INPUTS'], readFileSync(file))
    const training = process.env['BENCH_TRAINING'] ?? join(ROOT, 'training')
    if (models.length && sides.includes('ort')) {
      report.ort = python(process.env['BENCH_PYTHON_ORT'] || 'python3', 'ort', file, { BENCH_TRAINING: training })
      save()
    } else report.ort = { results: {}, error: 'not run' }
    const torchModels = process.env['BENCH_TORCH_MODELS'] ?? models.map((m) => m.name).join(',')
    const torchExe = process.env['BENCH_PYTHON_TORCH'] || (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3')
    if (!models.length || !sides.includes('torch')) report.torch = { results: {}, error: 'not run' }
    else if (torchModels === '') report.torch = { results: {}, error: 'skipped (BENCH_TORCH_MODELS empty)' }
    else report.torch = python(torchExe, 'torch', file, { BENCH_MODELS: torchModels, BENCH_TRAINING: training })
    save()
    printReport(report)
    console.log(`load average after: ${loadavg().map((x) => x.toFixed(1)).join(' ')}`)
    return report
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export function printReport(report: ReferenceReport): void {
  const { ort, torch } = report
  if (ort.error) console.log(`Python onnxruntime: ${ort.error}`)
  if (torch.error) console.log(`PyTorch: ${torch.error}`)
  const backends = [ort, torch].map((p) => Object.values(p.results)[0]?.backend).filter(Boolean)
  console.log(`# references: ${backends.join('; ')}`)
  const torchName = (Object.values(torch.results)[0]?.backend ?? 'PyTorch').split(',')[0]
  console.log(
    `\n| model | steps (evaluations), sampler, CFG | SDK loop ms (model; CPU) | Python ORT loop ms (model; CPU) | SDK speed-up vs Python ORT | ${torchName} loop ms (model; CPU) | SDK speed-up vs PyTorch | final sample max \\|Δx\\| vs SDK: ORT / torch (max \\|x\\|) | network alone, first call max \\|Δ\\|: ORT / torch | sampler alone, max rel. \\|Δ\\| per step: ORT / torch |`,
  )
  console.log('|---|---|---|---|---|---|---|---|---|---|')
  for (const m of report.models) {
    const s = report.sdk[m.name]
    if (!s || typeof s === 'string') continue
    const o = ort.results[m.name]
    const t = torch.results[m.name]
    const cell = (r: PyResult | undefined): string =>
      !r ? '—' : r.error ? `error: ${r.error}` : r.skipped ? r.skipped : `${f(r.loop)} (${f(r.model_ms)}; ${f(r.loop_cpu)})${r.reps === 0 ? ' ¹' : ''}`
    const ratio = (r: PyResult | undefined): string => (r?.loop ? `${(r.loop / s.loop).toFixed(2)}×` : '—')
    const ref = o?.ref_max ?? t?.ref_max
    console.log(
      `| ${m.name} | ${m.steps} (${s.evals}), ${m.sampler}, CFG ${m.guidance} | ${f(s.loop)} (${f(s.model)}; ${f(s.cpu)})${s.reps === 0 ? ' ¹' : ''} | ${cell(o)} | ${ratio(o)} | ${cell(t)} | ${ratio(t)} | ${e1(o?.diff)} / ${e1(t?.diff)}${ref ? ` (${ref.toFixed(2)})` : ''} | ${e1(o?.model_diff)} / ${e1(t?.model_diff)} | ${e1(o?.step_diff)} / ${e1(t?.step_diff)} |`,
    )
  }
  for (const r of [...Object.values(ort.results), ...Object.values(torch.results)]) {
    if (r.error || r.skipped) continue
    const planBad = [r.plan_t_diff, r.plan_sigma_diff].some((v) => typeof v === 'string' || (typeof v === 'number' && v > 1e-3))
    if (planBad) console.log(`${r.model}, ${r.backend}: the Python plan differs from the SDK's (timesteps ${e1(r.plan_t_diff)}, sigmas ${e1(r.plan_sigma_diff)})`)
    if (r.model === 'emoji') console.log(`emoji, ${r.backend}: text encoder ${f(r.text)} ms, VAE decode ${f(r.decode)} ms, load ${r.load_s?.toFixed(1)} s`)
    if (r.net) console.log(`${r.model}, ${r.backend}: ${r.net}`)
  }
  if (Object.values(report.sdk).some((s) => typeof s !== 'string' && s.reps === 0)) console.log('¹ time budget: the warm-up generation is the timing')
  for (const [name, s] of Object.entries(report.sdk)) if (typeof s === 'string') console.log(`${name}: ${s}`)
}

if (import.meta.url === `file://${process.argv[1]}`) await runReference()
