/**
 * onnxruntime session options that matter for the bundled unets on the CPU, side by side in one run:
 * intra-op threads (1, 2, onnxruntime's default), graph optimisation level (basic / extended / all),
 * classifier-free guidance as one batch of 2 vs two runs of 1 (the loop's maxBatch split), and
 * preallocated output tensors (session.run(feeds, { out_sample: tensor })) reused across steps.
 *   npx tsx bench/session-options.ts          (about 5 minutes on 2 cores)
 *   BENCH_ROUNDS=1 npx tsx bench/session-options.ts
 *   BENCH_MODELS=speech,music ...   (only these bundled models)
 *   BENCH_VARIANTS='threads 1,spinning' npx tsx bench/session-options.ts   (the default plus variants whose label contains one of these)
 *
 * Each variant is one full default generation loop (the model's steps, sampler and guidance, through
 * sample() with real conditioning shapes); the variants are interleaved round by round so that the load
 * of a shared machine drifts over all of them alike, and the median per variant is reported with its
 * ratio to the SDK's current defaults (createSession's options, batched guidance).
 */
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { Tensor } from 'onnxruntime-common'
import * as ort from 'onnxruntime-node'
import type { Conditioning, Denoiser } from '../src/core/denoiser.js'
import { sample } from '../src/core/loop.js'
import { philox } from '../src/core/rng/index.js'
import { createSampler } from '../src/core/samplers/registry.js'
import { getKernels } from '../src/native/loader.js'
import { createSession, type InferenceSession, type SessionOptions } from '../src/runtime/onnx.js'
import { OnnxDenoiser } from '../src/runtime/onnx-denoiser.js'
import { readModelFolder } from '../src/runtime/model-folder.js'
import { existsSync, statSync } from 'node:fs'

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3)

interface ModelCase {
  name: string
  shape: number[]
  cond: Conditioning
  uncond: Conditioning
}

function labels(a: number, b: number): Tensor {
  return new Tensor('int64', BigInt64Array.of(BigInt(a), BigInt(b)), [1, 2])
}

function states(seed: number): Tensor {
  const g = philox(seed)
  return new Tensor('float32', g.randn([1, 32, 192]), [1, 32, 192])
}

function latent(): Tensor {
  return new Tensor('float32', philox(3).randn([1, 16, 16]), [1, 16, 16])
}

const MODELS: ModelCase[] = [
  { name: 'speech', shape: [1, 1, 80, 64], cond: { class_labels: labels(1, 0) }, uncond: { class_labels: labels(30, 10) } },
  { name: 'music', shape: [1, 1, 128, 96], cond: { class_labels: labels(24, 0) }, uncond: { class_labels: labels(61, 6) } },
  { name: 'emoji', shape: [1, 4, 16, 16], cond: { encoder_hidden_states: states(1) }, uncond: { encoder_hidden_states: states(2) } },
  // the two-stage shapes model's point decoder (guidance acts on its prior, so both halves take the same latent)
  { name: 'shapes', shape: [1, 6, 2048], cond: { shape_latent: latent() }, uncond: { shape_latent: latent() } },
]

/**
 * A denoiser over a raw session that hands onnxruntime a preallocated output tensor per batch size and
 * reuses it (the loop copies what it keeps before the next call), so no output buffer is allocated per step.
 */
class PreallocDenoiser implements Denoiser {
  private readonly outputs = new Map<number, Tensor>()
  checked = false
  constructor(private readonly session: InferenceSession) {}
  async predict(x: Tensor, t: number, conditioning: Conditioning): Promise<Tensor> {
    const b = x.dims[0]!
    let out = this.outputs.get(b)
    if (!out) {
      out = new Tensor('float32', new Float32Array(x.data.length), x.dims)
      this.outputs.set(b, out)
    }
    const feeds: Record<string, Tensor> = { sample: x, timestep: new Tensor('float32', new Float32Array(b).fill(t), [b]), ...conditioning }
    const r = await this.session.run(feeds, { out_sample: out })
    const y = r['out_sample'] as Tensor
    // onnxruntime-node may ignore the preallocated tensor and allocate anyway: record which it did
    if (!this.checked) {
      this.checked = true
      this.usedPrealloc = y.data === out.data || (y.data as Float32Array).buffer === (out.data as Float32Array).buffer
    }
    return y
  }
  usedPrealloc = false
  async dispose(): Promise<void> {
    await this.session.release()
  }
}

interface Variant {
  label: string
  options: SessionOptions
  maxBatch?: number
  prealloc?: boolean
  /** onnxruntime session config entries (SessionOptions.extra), through a raw session */
  extra?: Record<string, unknown>
  threads?: number
}

/** a plain denoiser over a raw onnxruntime session created with options the SDK does not expose */
class RawDenoiser implements Denoiser {
  constructor(private readonly session: ort.InferenceSession) {}
  async predict(x: Tensor, t: number, conditioning: Conditioning): Promise<Tensor> {
    const b = x.dims[0]!
    const r = await this.session.run({ sample: x, timestep: new Tensor('float32', new Float32Array(b).fill(t), [b]), ...conditioning })
    return r['out_sample'] as Tensor
  }
  async dispose(): Promise<void> {
    await this.session.release()
  }
}

const ALL_VARIANTS: Variant[] = [
  { label: 'SDK default (physical-core threads, no spinning, opt all, batched CFG)', options: {} },
  { label: "onnxruntime's own defaults (threads 0: affinitized, spinning)", options: {}, extra: {} },
  { label: 'threads 0 (affinitized), no spinning', options: {}, extra: { session: { intra_op: { allow_spinning: '0' } } } },
  { label: 'threads 1', options: { threads: 1 } },
  { label: 'threads 2, spinning', options: { threads: 2, spinning: true } },
  { label: 'graph opt basic', options: { graphOptimizationLevel: 'basic' } },
  { label: 'graph opt extended', options: { graphOptimizationLevel: 'extended' } },
  { label: 'graph opt disabled', options: { graphOptimizationLevel: 'disabled' } },
  { label: 'CFG halves as 2 runs (maxBatch 1)', options: {}, maxBatch: 1 },
  { label: 'preallocated, reused output tensor', options: {}, prealloc: true },
]
const VARIANTS = ALL_VARIANTS.filter((v, i) => i === 0 || !process.env['BENCH_VARIANTS'] || process.env['BENCH_VARIANTS']!.split(',').some((w) => v.label.includes(w)))

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

export async function runSessionOptions(): Promise<Record<string, { label: string; ms: number; ratio: number }[]>> {
  console.log(`# session options, CPU: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`)
  console.log(`# ${ROUNDS} interleaved rounds after a warm-up; one full default generation loop per variant; median ms`)
  const kernels = getKernels('cpu')
  const results: Record<string, { label: string; ms: number; ratio: number }[]> = {}
  const only = process.env['BENCH_MODELS']?.split(',')
  for (const m of MODELS) {
    if (only && !only.includes(m.name)) continue
    const file = join('models', m.name, 'unet', 'model.onnx')
    if (!existsSync(file) || statSync(file).size < 1024) {
      console.log(`${m.name}: ${file} is not there (yet): skipped`)
      continue
    }
    const folder = await readModelFolder(m.name)
    const d = folder.config.defaults ?? {}
    const steps = d.steps ?? 25
    const guidance = d.guidance ?? 1
    const denoisers: Denoiser[] = []
    for (const v of VARIANTS) {
      if (v.extra !== undefined) {
        const o: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', executionProviders: ['cpu'], extra: v.extra, ...(v.threads ? { intraOpNumThreads: v.threads } : {}) }
        denoisers.push(new RawDenoiser(await ort.InferenceSession.create(file, o)))
      } else if (v.prealloc) denoisers.push(new PreallocDenoiser(await createSession(file, v.options)))
      else denoisers.push(await OnnxDenoiser.create(file, { ...v.options, ...(v.maxBatch ? { maxBatch: v.maxBatch } : {}) }))
    }
    const once = async (den: Denoiser): Promise<{ ms: number; out: Float32Array }> => {
      const sampler = d.sampler ? createSampler(d.sampler, folder.scheduler!) : createSampler(folder.scheduler!)
      const t0 = performance.now()
      const r = await sample({ denoiser: den, sampler, steps, shape: m.shape, generator: philox(5), conditioning: m.cond, unconditional: m.uncond, guidanceScale: guidance, kernels })
      return { ms: performance.now() - t0, out: r.sample }
    }
    const times: number[][] = VARIANTS.map(() => [])
    const outs: Float32Array[] = []
    for (let i = 0; i < VARIANTS.length; i++) outs.push((await once(denoisers[i]!)).out) // warm-up
    for (let r = 0; r < ROUNDS; r++) for (let i = 0; i < VARIANTS.length; i++) times[i]!.push((await once(denoisers[i]!)).ms)
    const base = median(times[0]!)
    console.log(`\n${m.name}: ${steps} steps, ${d.sampler ?? folder.scheduler!['_class_name']}, guidance ${guidance}, x ${JSON.stringify(m.shape)}; load average ${loadavg()[0]!.toFixed(1)}`)
    console.log('| variant | ms / generation | vs SDK default | max |Δ| vs default output |')
    console.log('|---|---|---|---|')
    results[m.name] = []
    VARIANTS.forEach((v, i) => {
      const ms = median(times[i]!)
      let diff = 0
      for (let k = 0; k < outs[0]!.length; k++) diff = Math.max(diff, Math.abs(outs[i]![k]! - outs[0]![k]!))
      const note = v.prealloc ? ` (onnxruntime ${(denoisers[i] as PreallocDenoiser).usedPrealloc ? 'wrote into' : 'ignored'} the preallocated tensor)` : ''
      console.log(`| ${v.label}${note} | ${ms.toFixed(0)} | ${(base / ms).toFixed(2)}× | ${diff.toExponential(1)} |`)
      results[m.name]!.push({ label: v.label, ms, ratio: base / ms })
    })
    for (const den of denoisers) await den.dispose?.()
  }
  return results
}

if (import.meta.url === `file://${process.argv[1]}`) await runSessionOptions()
