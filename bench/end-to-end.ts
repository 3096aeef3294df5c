/**
 * End to end on the CPU: one generation per bundled model with its default settings, through the public
 * pipelines (loadPipeline of diffusekit/audio, /image, /pointcloud), and where the time goes.
 *   npx tsx bench/end-to-end.ts              (a few minutes on 2 cores)
 *   BENCH_REPS=1 npx tsx bench/end-to-end.ts (one timed generation per model)
 *   BENCH_MODELS=speech,emoji ...            (only these models)
 *   BENCH_JSON=out.json ...                  (also write the raw numbers)
 *   BENCH_THREADS=16 ...                     (onnxruntime intra-op threads and the native addon's threads;
 *                                             default: the SDK's own defaults)
 *   BENCH_MODELS_DIR=dir ...                 (the model folders are dir/<name>; default: the bundled ones)
 *   BENCH_DEADLINE=<unix seconds> ...        (a time budget: fewer repetitions, then models skipped)
 *
 * Instrumented from the outside only, so the SDK runs exactly as a user's program runs it:
 * - model: onnxruntime's InferenceSession.prototype.run is wrapped (the unet, and the text encoder / VAE
 *   decoder by their input names), timed with performance.now;
 * - sampler math: the prototype `step` of the sampler class each model uses (guidance is combined inside
 *   step, fused with the update) is wrapped the same way;
 * - the loop span runs from the first unet call to the last onProgress callback; what is left of it after
 *   model and sampler time is the SDK's own overhead (input scaling, batch concatenation, tensor wrapping,
 *   the non-finite checks, the progress callback), reported per step and as a % of a step;
 * - decode: from the last step to generate()'s return (Griffin-Lim + waveform assembly for audio, VAE decode
 *   + conversion for images, channel split for point clouds); I/O: the result's save() to a temp dir.
 * The first generation of each model is a warm-up (onnxruntime allocates on its first runs) and is not
 * counted; of BENCH_REPS (default 3) timed generations the one with the median total is reported, except
 * the overhead columns: medians over the repetitions (and the largest % in brackets).
 */
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import * as ort from 'onnxruntime-node'
import { createSampler } from '../src/core/samplers/registry.js'
import type { Sampler } from '../src/core/samplers/types.js'
import { readModelFolder } from '../src/runtime/model-folder.js'
import { nativeInfo, setNativeThreads } from '../src/native/loader.js'
import { packageRoot } from '../src/runtime/package-root.js'
import * as audio from '../modalities/audio/index.js'
import * as image from '../modalities/image/index.js'
import * as pointcloud from '../modalities/pointcloud/index.js'

const REPS = Number(process.env['BENCH_REPS'] ?? 3)
const THREADS = Number(process.env['BENCH_THREADS'] || 0)
const DEADLINE = Number(process.env['BENCH_DEADLINE'] || 0) // unix seconds, 0: none
/** the pipelines' options: CPU, and the thread count when one is given */
const OPTS = { device: 'cpu' as const, ...(THREADS ? { threads: THREADS } : {}) }
/** the model folders: by bundled name, or from BENCH_MODELS_DIR/<name> */
const MODELS_DIR = process.env['BENCH_MODELS_DIR'] || ''
const model = (name: string): string => (MODELS_DIR ? join(MODELS_DIR, name) : name)

function secondsLeft(): number {
  return DEADLINE ? DEADLINE - Date.now() / 1000 : Infinity
}

// ---- outside instrumentation -------------------------------------------------------------------
type Role = 'unet' | 'text_encoder' | 'vae_decoder' | 'other'
interface Span {
  role: Role
  start: number
  end: number
}
const runs: Span[] = []
const stepSpans: Span[] = []

function roleOf(session: ort.InferenceSession): Role {
  const inputs = session.inputNames
  if (inputs.includes('sample') || inputs.includes('x')) return 'unet'
  if (inputs.includes('input_ids')) return 'text_encoder'
  if (inputs.includes('latent_sample')) return 'vae_decoder'
  return 'other'
}

const proto = (ort.InferenceSession as unknown as { prototype: { run: (...a: unknown[]) => Promise<unknown> } }).prototype
const originalRun = proto.run
proto.run = async function (this: ort.InferenceSession, ...args: unknown[]) {
  const start = performance.now()
  try {
    return await originalRun.apply(this, args)
  } finally {
    runs.push({ role: roleOf(this), start, end: performance.now() })
  }
}

const wrapped = new Set<object>()
/** wraps the prototype step of the class a sampler name/config creates (once per class) */
function instrumentSampler(s: Sampler): void {
  const p = Object.getPrototypeOf(s) as { step: (...a: unknown[]) => Promise<unknown> }
  if (wrapped.has(p)) return
  wrapped.add(p)
  const original = p.step
  p.step = async function (this: unknown, ...args: unknown[]) {
    const start = performance.now()
    try {
      return await original.apply(this, args)
    } finally {
      stepSpans.push({ role: 'other', start, end: performance.now() })
    }
  }
}

// ---- the models -------------------------------------------------------------------------------
interface Case {
  name: string
  what: string
  load: () => Promise<{ generate: (onProgress: () => void) => Promise<{ save: (dir: string) => Promise<string> }>; dispose: () => Promise<void> }>
}

const CASES: Case[] = [
  {
    name: 'speech',
    what: 'text "one", 1 word = 1 mel image 80x64, Griffin-Lim 32 it.',
    load: async () => {
      const p = (await audio.loadPipeline(model('speech'), OPTS)) as audio.SpeechPipeline
      return {
        generate: async (onProgress) => {
          const clip = await p.generate({ text: 'one', seed: 1, onProgress })
          return { save: async (dir) => (await clip.save(join(dir, 'speech.wav')), join(dir, 'speech.wav')) }
        },
        dispose: () => p.dispose(),
      }
    },
  },
  {
    name: 'music',
    what: 'notes "C4", 1 note = 1 mel image 128x96, Griffin-Lim 32 it.',
    load: async () => {
      const p = (await audio.loadPipeline(model('music'), OPTS)) as audio.MusicPipeline
      return {
        generate: async (onProgress) => {
          const clip = await p.generate({ notes: 'C4', seed: 1, onProgress })
          return { save: async (dir) => (await clip.save(join(dir, 'music.wav')), join(dir, 'music.wav')) }
        },
        dispose: () => p.dispose(),
      }
    },
  },
  {
    name: 'emoji',
    what: 'prompt "red apple", 64x64 (latent 4x16x16), text encoder + VAE decode',
    load: async () => {
      const p = await image.loadPipeline(model('emoji'), OPTS)
      return {
        generate: async (onProgress) => {
          const r = await p.generate({ prompt: 'red apple', seed: 1, onProgress })
          return { save: async (dir) => (await r.save(join(dir, 'emoji.png')))[0]! }
        },
        dispose: () => p.dispose(),
      }
    },
  },
  {
    name: 'shapes',
    what: 'prompt "chair", 2048 points x 6 channels, PLY',
    load: async () => {
      const p = await pointcloud.loadPipeline(model('shapes'), OPTS)
      return {
        generate: async (onProgress) => {
          const c = await p.generate({ prompt: 'chair', seed: 1, onProgress })
          return { save: async (dir) => (await c.save(join(dir, 'shapes.ply')), join(dir, 'shapes.ply')) }
        },
        dispose: () => p.dispose(),
      }
    },
  },
]

function modelPresent(name: string): boolean {
  const f = join(MODELS_DIR || join(packageRoot(), 'models'), name, 'unet', 'model.onnx')
  return existsSync(f) && statSync(f).size > 1024
}

export interface Breakdown {
  model: string
  steps: number
  sampler: string
  loadMs: number
  totalMs: number
  preMs: number
  loopMs: number
  unetMs: number
  samplerMs: number
  overheadMs: number
  textEncoderMs: number
  decodeMs: number
  vaeMs: number
  saveMs: number
  stepMs: number
  overheadPerStepMs: number
  overheadPct: number
  /** the largest overhead % among the repetitions */
  maxOverheadPct?: number
  loadavg: number
  /** timed repetitions (0: the time budget left only the warm-up, which is then the row) */
  reps?: number
}

function sum(spans: Span[], role?: Role): number {
  return spans.filter((s) => !role || s.role === role).reduce((a, s) => a + (s.end - s.start), 0)
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

async function measure(c: Case, dir: string): Promise<Breakdown | string> {
  if (!modelPresent(c.name)) return `models/${c.name}/unet/model.onnx is not there (yet): skipped`
  const folder = await readModelFolder(model(c.name))
  const defaults = folder.config.defaults ?? {}
  const sampler = defaults.sampler ? createSampler(defaults.sampler, folder.scheduler!) : createSampler(folder.scheduler!)
  instrumentSampler(sampler)
  const t0 = performance.now()
  const pipe = await c.load()
  const loadMs = performance.now() - t0
  const reps: Breakdown[] = []
  let planned = REPS
  for (let r = 0; r <= planned; r++) {
    runs.length = 0
    stepSpans.length = 0
    const progress: number[] = []
    const start = performance.now()
    const result = await pipe.generate(() => progress.push(performance.now()))
    const genEnd = performance.now()
    await result.save(dir)
    const end = performance.now()
    // warm-up: not counted, unless the time budget leaves no room for another generation
    if (r === 0) planned = Math.max(0, Math.min(REPS, Math.floor(secondsLeft() / Math.max((end - start) / 1000, 1e-3))))
    if (r === 0 && planned > 0) continue
    const unet = runs.filter((s) => s.role === 'unet')
    const loopStart = unet[0]!.start
    const loopEnd = progress[progress.length - 1]!
    const inLoop = (s: Span): boolean => s.start >= loopStart && s.end <= loopEnd
    const steps = progress.length
    const loopMs = loopEnd - loopStart
    const unetMs = sum(unet.filter(inLoop))
    const samplerMs = sum(stepSpans.filter(inLoop))
    const overheadMs = loopMs - unetMs - samplerMs
    reps.push({
      model: c.name,
      steps,
      sampler: sampler.constructor.name,
      loadMs,
      totalMs: end - start,
      preMs: loopStart - start,
      loopMs,
      unetMs,
      samplerMs,
      overheadMs,
      textEncoderMs: sum(runs, 'text_encoder'),
      decodeMs: genEnd - loopEnd,
      vaeMs: sum(runs, 'vae_decoder'),
      saveMs: end - genEnd,
      stepMs: loopMs / steps,
      overheadPerStepMs: overheadMs / steps,
      overheadPct: (100 * overheadMs) / loopMs,
      loadavg: loadavg()[0]!,
    })
  }
  await pipe.dispose()
  reps.forEach((x) => (x.reps = planned))
  // the median repetition by total time, so that its parts add up
  const byTotal = [...reps].sort((a, b) => a.totalMs - b.totalMs)
  const m = byTotal[Math.floor(byTotal.length / 2)]!
  // the overhead is a small difference of large times: a single preemption of this process (the
  // machine is shared) lands in it whole, so its columns are the medians over the repetitions
  return {
    ...m,
    overheadMs: median(reps.map((x) => x.overheadMs)),
    overheadPct: median(reps.map((x) => x.overheadPct)),
    overheadPerStepMs: median(reps.map((x) => x.overheadPerStepMs)),
    maxOverheadPct: Math.max(...reps.map((x) => x.overheadPct)),
  }
}

function f(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2)
}

export async function runEndToEnd(): Promise<Breakdown[]> {
  const dir = mkdtempSync(join(tmpdir(), 'diffusekit-e2e-'))
  if (THREADS) setNativeThreads(THREADS)
  console.log(`# end to end, CPU: ${availableParallelism()} of ${cpus().length} × ${cpus()[0]?.model ?? '?'} usable, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`)
  console.log(`# node ${process.version}, onnxruntime-node ${ort.env.versions.node ?? ''}, native addon ${nativeInfo().loaded ? `loaded from ${nativeInfo().path} (simd ${JSON.stringify(nativeInfo().simd)}, ${nativeInfo().threads} threads)` : "not loaded"}; models from ${MODELS_DIR || join(packageRoot(), 'models')}`)
  console.log(`# ${REPS} timed generations per model after one warm-up; median; times in ms; onnxruntime intra-op threads ${THREADS || 'the SDK default'}, native addon threads ${nativeInfo().threads}`)
  const out: Breakdown[] = []
  const notes: Record<string, string> = {}
  try {
    const only = process.env['BENCH_MODELS']?.split(',')
    for (const c of CASES) {
      if (only && !only.includes(c.name)) continue
      let b: Breakdown | string
      if (secondsLeft() < 5) b = 'skipped: time budget spent'
      else {
        try {
          b = await measure(c, dir)
        } catch (e) {
          b = `error: ${(e as Error).message.split('\n')[0]}`
        }
      }
      if (typeof b === 'string') {
        notes[c.name] = b
        console.log(`${c.name}: ${b}`)
        continue
      }
      out.push(b)
      notes[c.name] = `${c.what}; ${b.steps} model evaluations with ${b.sampler}`
      console.log(`${c.name}: ${notes[c.name]}`)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const head = ['model', 'steps', 'load', 'total', 'pre-loop', 'loop', 'unet', 'sampler', 'SDK overhead', 'text enc', 'decode (VAE)', 'save', 'ms/step', 'overhead/step', 'overhead % of step (max)', 'load avg']
  console.log('\n| ' + head.join(' | ') + ' |')
  console.log('|' + head.map(() => '---').join('|') + '|')
  for (const b of out) {
    console.log(
      `| ${b.model} | ${b.steps} | ${f(b.loadMs)} | ${f(b.totalMs)} | ${f(b.preMs)} | ${f(b.loopMs)} | ${f(b.unetMs)} (${((100 * b.unetMs) / b.totalMs).toFixed(0)}%) | ${f(b.samplerMs)} | ${f(b.overheadMs)} | ${f(b.textEncoderMs)} | ${f(b.decodeMs)}${b.vaeMs ? ` (${f(b.vaeMs)})` : ''} | ${f(b.saveMs)} | ${f(b.stepMs)} | ${f(b.overheadPerStepMs)} | ${b.overheadPct.toFixed(2)}% (${(b.maxOverheadPct ?? b.overheadPct).toFixed(2)}%)${b.reps === 0 ? ' ¹' : ''} | ${b.loadavg.toFixed(1)} |`,
    )
  }
  if (out.some((b) => b.reps === 0)) console.log('¹ time budget: the warm-up generation is the row')
  const json = process.env['BENCH_JSON']
  // the rows, and per model what it ran or why it did not
  if (json) writeFileSync(json, JSON.stringify({ threads: THREADS || null, nativeThreads: nativeInfo().threads, rows: out, notes }, null, 2))
  return out
}

if (import.meta.url === `file://${process.argv[1]}`) await runEndToEnd()
