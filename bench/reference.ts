/**
 * This SDK against Python on the same CPU, side by side in one run: for each bundled model, the default
 * generation's sampling loop (same network weights, same sampler, same steps, guidance, initial noise) in
 *   1. diffusekit (OnnxDenoiser + sample(), the SDK's defaults),
 * Models: speech, music (DDIM), emoji (DPM++ 2M Karras, text encoder + VAE decode), shapes (Karras Heun).
 *   2. Python onnxruntime on the same ONNX files with a numpy sampler loop (pyenv `python3`),
 *   3. PyTorch: Debian's python3-torch 1.13 (`/usr/bin/python3`) running the training recipes' torch modules
 *      with the weights read back from the ONNX initializers, and a torch sampler loop — a SECOND,
 *      labelled reference: this torch is old and erratic on this machine (issue 8).
 * The Python samplers are bench/reference/loop.py's own implementations of diffusers' update rules
 * (diffusers is not installable here); each side's final sample is compared with the SDK's.
 *   npx tsx bench/reference.ts       (a few minutes on 2 cores)
 *   BENCH_REPS=1 npx tsx bench/reference.ts
 *   BENCH_TORCH_MODELS=speech ...   (PyTorch only for these models; empty: no PyTorch run)
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Tensor } from 'onnxruntime-common'
import type { Conditioning, Denoiser } from '../src/core/denoiser.js'
import { sample } from '../src/core/loop.js'
import { philox } from '../src/core/rng/index.js'
import { createSampler } from '../src/core/samplers/registry.js'
import { getKernels } from '../src/native/loader.js'
import { readModelFolder } from '../src/runtime/model-folder.js'
import { OnnxDenoiser } from '../src/runtime/onnx-denoiser.js'
import { defaultThreads } from '../src/runtime/onnx.js'
import { ClipTokenizer } from '../src/runtime/tokenizer.js'
import { loadPipeline as loadImage } from '../modalities/image/index.js'

const REPS = Number(process.env['BENCH_REPS'] ?? 3)
const THREADS = Number(process.env['BENCH_THREADS'] ?? defaultThreads())
const ROOT = fileURLToPath(new URL('..', import.meta.url))

interface ModelInputs {
  name: string
  shape: number[]
  steps: number
  guidance: number
  sampler: string
  noise: number[]
  cond?: number[]
  uncond?: number[]
  condIds?: number[]
  uncondIds?: number[]
  sdk: number[]
}

interface SdkTiming {
  loop: number
  model: number
  /** CPU time of this process over the loop (user + system, all threads), ms */
  cpu: number
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

/** the SDK's denoiser with its predict calls timed from the outside */
function timed(inner: Denoiser, acc: { ms: number }): Denoiser {
  return {
    ...(inner.predictionType ? { predictionType: inner.predictionType } : {}),
    async predict(x, t, c) {
      const t0 = performance.now()
      try {
        return await inner.predict(x, t, c)
      } finally {
        acc.ms += performance.now() - t0
      }
    },
  }
}

function present(name: string): boolean {
  const f = join(ROOT, 'models', name, 'unet', 'model.onnx')
  return existsSync(f) && statSync(f).size > 1024
}

async function sdkSide(name: string): Promise<{ inputs: ModelInputs; timing: SdkTiming; scheduler: Record<string, unknown> } | undefined> {
  if (!present(name)) return undefined
  const folder = await readModelFolder(name)
  const d = folder.config.defaults ?? {}
  const steps = d.steps ?? 25
  const guidance = d.guidance ?? 1
  const samplerName = String(d.sampler ?? folder.scheduler!['_class_name'])
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
    const pipe = await loadImage('emoji', { device: 'cpu' })
    cond = { encoder_hidden_states: await pipe.encodePrompts(['red apple']) }
    uncond = { encoder_hidden_states: await pipe.encodePrompts(['']) }
    await pipe.dispose()
    const tok = await ClipTokenizer.fromFolder(join(ROOT, 'models/emoji/tokenizer'), { maxLength: 32 })
    extra.condIds = Array.from(tok.encode('red apple').ids)
    extra.uncondIds = Array.from(tok.encode('').ids)
  } else if (name === 'shapes') {
    shape = [1, Number(folder.config['channels'] ?? 6), Number(folder.config['points'] ?? 2048)]
    extra.cond = [7] // chair
    extra.uncond = [Number(folder.config['nullClassLabel'] ?? 14)]
    cond = { class_labels: new Tensor('int64', BigInt64Array.from(extra.cond.map(BigInt)), [1]) }
    uncond = { class_labels: new Tensor('int64', BigInt64Array.from(extra.uncond.map(BigInt)), [1]) }
  } else {
    return undefined
  }
  const noise = philox(1).randn(shape)
  const den = await OnnxDenoiser.create(folder.file('unet'), { device: 'cpu', threads: THREADS })
  const acc = { ms: 0 }
  const kernels = getKernels('cpu')
  const once = async (): Promise<{ loop: number; model: number; cpu: number; out: Float32Array }> => {
    acc.ms = 0
    const c0 = process.cpuUsage()
    const sampler = d.sampler ? createSampler(d.sampler, folder.scheduler!) : createSampler(folder.scheduler!)
    const t0 = performance.now()
    const r = await sample({ denoiser: timed(den, acc), sampler, steps, shape, generator: philox(2), noise, conditioning: cond, unconditional: uncond, guidanceScale: guidance, kernels })
    const loop = performance.now() - t0
    const c = process.cpuUsage(c0)
    return { loop, model: acc.ms, cpu: (c.user + c.system) / 1000, out: r.sample }
  }
  const first = await once()
  const runs = [] as SdkTiming[]
  for (let i = 0; i < REPS; i++) runs.push(await once())
  runs.sort((a, b) => a.loop - b.loop)
  await den.dispose()
  return {
    inputs: { name, shape, steps, guidance, sampler: samplerName, noise: Array.from(noise), sdk: Array.from(first.out), ...extra },
    timing: runs[Math.floor(runs.length / 2)]!,
    scheduler: folder.scheduler as Record<string, unknown>,
  }
}

interface PyResult {
  model: string
  backend: string
  error?: string
  loop?: number
  loop_cpu?: number
  model_ms?: number
  sampler?: number
  text?: number
  decode?: number
  diff?: number
  load_s?: number
}

function python(exe: string, mode: string, inputs: string, env: Record<string, string>): { results: Record<string, PyResult>; error?: string } {
  try {
    const out = execFileSync(exe, [join(ROOT, 'bench/reference/loop.py'), mode, inputs], {
      env: { ...process.env, ...env, BENCH_REPS: String(REPS) },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 1 << 24,
    })
    const results: Record<string, PyResult> = {}
    for (const line of out.split('\n')) {
      if (!line.startsWith('{')) continue
      const r = JSON.parse(line) as Record<string, unknown>
      results[String(r['model'])] = r as unknown as PyResult
    }
    return { results }
  } catch (e) {
    const err = e as { stderr?: string; message: string }
    return { results: {}, error: (err.stderr || err.message).trim().split('\n').slice(-3).join(' / ') }
  }
}

function f(ms: number | undefined): string {
  return ms === undefined ? '—' : ms >= 100 ? ms.toFixed(0) : ms.toFixed(1)
}

export async function runReference(): Promise<void> {
  console.log(`# SDK vs Python on this CPU: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`)
  console.log(`# median of ${REPS} after a warm-up; ${THREADS} threads on every side (onnxruntime: the SDK's session defaults, explicit threads and no spinning, in both)`)
  const dir = mkdtempSync(join(tmpdir(), 'diffusekit-ref-'))
  try {
    const models: ModelInputs[] = []
    const sdk: Record<string, SdkTiming> = {}
    const schedulers: Record<string, Record<string, unknown>> = {}
    for (const name of ['speech', 'music', 'emoji', 'shapes']) {
      const s = await sdkSide(name)
      if (!s) {
        console.log(`${name}: not compared (model not there yet)`)
        continue
      }
      models.push(s.inputs)
      sdk[name] = s.timing
      schedulers[name] = s.scheduler
    }
    const vae = JSON.parse(readFileSync(join(ROOT, 'models/emoji/vae_decoder/config.json'), 'utf8')) as { scaling_factor?: number }
    const file = join(dir, 'inputs.json')
    writeFileSync(file, JSON.stringify({ models, schedulers, vaeScaling: vae.scaling_factor ?? 1 }))
    const ortPy = python('python3', 'ort', file, { BENCH_THREADS: String(THREADS) })
    const torchModels = process.env['BENCH_TORCH_MODELS'] ?? models.map((m) => m.name).join(',')
    const torchPy = torchModels === '' ? { results: {}, error: 'skipped (BENCH_TORCH_MODELS empty)' } : existsSync('/usr/bin/python3') ? python('/usr/bin/python3', 'torch', file, { BENCH_THREADS: String(THREADS), BENCH_MODELS: torchModels }) : { results: {}, error: '/usr/bin/python3 missing' }
    if (ortPy.error) console.log(`Python onnxruntime: ${ortPy.error}`)
    if (torchPy.error) console.log(`PyTorch: ${torchPy.error}`)
    const backends = [ortPy, torchPy].map((p) => Object.values(p.results)[0]?.backend).filter(Boolean)
    console.log(`# references: ${backends.join('; ')}`)
    console.log('\n| model | steps, sampler | SDK loop ms (model; CPU ms) | Python ORT loop ms (model; CPU ms) | SDK speed-up vs Python ORT | PyTorch 1.13 loop ms (model; CPU ms) | SDK speed-up vs PyTorch | max |Δx| vs SDK (ORT / torch) |')
    console.log('|---|---|---|---|---|---|---|---|')
    for (const m of models) {
      const s = sdk[m.name]!
      const o = ortPy.results[m.name]
      const t = torchPy.results[m.name]
      const cell = (r: PyResult | undefined): string => (!r ? '—' : r.error ? `error: ${r.error}` : `${f(r.loop)} (${f(r.model_ms)}; ${f(r.loop_cpu)})`)
      const ratio = (r: PyResult | undefined): string => (r?.loop ? `${(r.loop / s.loop).toFixed(2)}×` : '—')
      console.log(
        `| ${m.name} | ${m.steps}, ${m.sampler}, CFG ${m.guidance} | ${f(s.loop)} (${f(s.model)}; ${f(s.cpu)}) | ${cell(o)} | ${ratio(o)} | ${cell(t)} | ${ratio(t)} | ${o?.diff?.toExponential(1) ?? '—'} / ${t?.diff?.toExponential(1) ?? '—'} |`,
      )
    }
    const extras = [...Object.values(ortPy.results), ...Object.values(torchPy.results)].filter((r) => r.model === 'emoji' && !r.error)
    for (const r of extras) console.log(`emoji, ${r.backend}: text encoder ${f(r.text)} ms, VAE decode ${f(r.decode)} ms, load ${r.load_s?.toFixed(1)} s`)
    console.log(`load average after: ${loadavg().map((x) => x.toFixed(1)).join(' ')}`)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await runReference()
