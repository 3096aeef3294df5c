/**
 * Resource soak for one bundled model, shared by scripts/soak.ts (1000 generations) and
 * test/soak.test.ts (a short CI run): consecutive generations in one process with resident memory
 * sampled along the way, load/generate/dispose cycles, and generations aborted mid-run.
 * Memory is process.memoryUsage(): rss is what an operator sees; heapUsed/external/arrayBuffers say
 * which side (JS heap, native/ONNX) grows if rss does. The GC is forced before each sample when
 * node runs with --expose-gc, so a sample measures what is retained rather than GC timing.
 */
import { readModelFolder } from '../../src/runtime/model-folder.js'

export interface MemorySample {
  generation: number
  rssMB: number
  heapUsedMB: number
  externalMB: number
  arrayBuffersMB: number
}

export interface SoakResult {
  model: string
  steps: number
  generations: number
  seconds: number
  samples: MemorySample[]
  /** rss growth from the first sample after warm-up to the last, in % of the first */
  rssGrowthPercent: number
  heapGrowthMB: number
  disposeCycles?: { cycles: number; rssBeforeMB: number; rssAfterMB: number; growthPercent: number }
  cancel?: { runs: number; aborted: number; otherErrors: string[]; rssBeforeMB: number; rssAfterMB: number; resourcesBefore: string[]; resourcesAfter: string[] }
  /** every generation with the same seed gave the same samples */
  deterministic: boolean
}

const MB = 1024 * 1024
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined)

function sample(generation: number): MemorySample {
  gc()
  gc()
  const m = process.memoryUsage()
  const r = (x: number): number => Math.round((x / MB) * 10) / 10
  return { generation, rssMB: r(m.rss), heapUsedMB: r(m.heapUsed), externalMB: r(m.external), arrayBuffersMB: r(m.arrayBuffers) }
}

function digest(xs: Float32Array | Uint8Array): number {
  let h = 0
  for (let i = 0; i < xs.length; i++) h = (Math.imul(h, 31) + Math.round(xs[i]! * 1e6)) | 0
  return h
}

/** A resource listing to compare before/after: handles and requests node still holds (timers excluded). */
function resources(): string[] {
  const info = (process as unknown as { getActiveResourcesInfo?: () => string[] }).getActiveResourcesInfo?.() ?? []
  return info.filter((r) => r !== 'Timeout' && r !== 'TTYWrap' && r !== 'Immediate').sort()
}

interface Driver {
  generate(o: { steps: number; seed: number; signal?: AbortSignal; onProgress?: (p: { step: number }) => void }): Promise<Float32Array | Uint8Array>
  dispose(): Promise<void>
}

/** One generation API over the modalities: the bundled model's diffusekit.json picks the pipeline. */
async function load(model: string): Promise<Driver> {
  const folder = await readModelFolder(model)
  if (folder.config.modality === 'image') {
    const { loadPipeline } = await import('../../modalities/image/pipeline.js')
    const p = await loadPipeline(model)
    return {
      generate: async (o) => (await p.generate({ prompt: 'a smiling face', ...o })).images[0]!.data,
      dispose: () => p.dispose(),
    }
  }
  if (folder.config.modality === 'audio') {
    const { loadPipeline } = await import('../../modalities/audio/pipeline.js')
    const p = await loadPipeline(model)
    const text = (p as unknown as { vocabulary?: string[] }).vocabulary?.slice(0, 2).join(' ') ?? 'one two'
    return {
      generate: async (o) => ((await p.generate({ text, ...o } as never)) as unknown as { samples: Float32Array }).samples,
      dispose: () => p.dispose(),
    }
  }
  if (folder.config.modality === 'pointcloud') {
    const { loadPipeline } = await import('../../modalities/pointcloud/pipeline.js')
    const p = await loadPipeline(model)
    const prompt = (folder.config.classes as string[] | undefined)?.[0] ?? 'sphere'
    return {
      generate: async (o) => (await p.generate({ prompt, ...o })).positions,
      dispose: () => p.dispose(),
    }
  }
  throw new Error(`soak: no driver for modality ${String(folder.config.modality)} (${model})`)
}

/**
 * The bundled model with the smallest denoiser (unet/model.onnx, by file size), for the CI soak and the
 * concurrency test: the network that runs at every step sets their cost. (By whole folder, the two-stage
 * shapes model, whose prior adds 5 MB, no longer came first and those tests moved to speech.)
 */
export async function smallestBundledModel(): Promise<string | undefined> {
  const { bundledModelNames, resolveModel } = await import('../../src/runtime/model-folder.js')
  const { statSync } = await import('node:fs')
  const size = (d: string): number => statSync(`${d}/unet/model.onnx`).size
  const names = bundledModelNames().filter((n) => existsUnet(resolveModel(n)))
  names.sort((a, b) => size(resolveModel(a)) - size(resolveModel(b)))
  return names[0]
}

function existsUnet(dir: string): boolean {
  try {
    return (require_('node:fs') as typeof import('node:fs')).existsSync(`${dir}/unet/model.onnx`)
  } catch {
    return false
  }
}
import { createRequire } from 'node:module'
const require_ = createRequire(import.meta.url)

export interface SoakOptions {
  model?: string
  generations: number
  steps?: number
  /** memory sample every this many generations */
  every?: number
  /** generations before the baseline sample (ONNX arenas and JIT warm up) */
  warmup?: number
  disposeCycles?: number
  cancelRuns?: number
  log?: (line: string) => void
}

export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  const model = o.model ?? (await smallestBundledModel()) ?? 'emoji'
  const steps = o.steps ?? 2
  const every = o.every ?? Math.max(1, Math.floor(o.generations / 20))
  const warmup = o.warmup ?? Math.min(20, Math.floor(o.generations / 5))
  const log = o.log ?? (() => undefined)
  const started = Date.now()
  const pipe = await load(model)
  const samples: MemorySample[] = []
  let first: number | undefined
  let deterministic = true
  for (let g = 1; g <= o.generations; g++) {
    const d = digest(await pipe.generate({ steps, seed: 1234 }))
    if (first === undefined) first = d
    else if (d !== first) deterministic = false
    if (g === warmup || g % every === 0 || g === o.generations) {
      const s = sample(g)
      samples.push(s)
      log(`generation ${g}: rss ${s.rssMB} MB, heap ${s.heapUsedMB} MB, external ${s.externalMB} MB`)
    }
  }
  await pipe.dispose()
  const base = samples.find((s) => s.generation >= warmup) ?? samples[0]!
  const last = samples[samples.length - 1]!
  const result: SoakResult = {
    model,
    steps,
    generations: o.generations,
    seconds: 0,
    samples,
    rssGrowthPercent: Math.round(((last.rssMB - base.rssMB) / base.rssMB) * 1000) / 10,
    heapGrowthMB: Math.round((last.heapUsedMB - base.heapUsedMB) * 10) / 10,
    deterministic,
  }
  if (o.disposeCycles) {
    // load + generate + dispose, repeatedly: disposing must give native and ONNX memory back
    const one = async (): Promise<void> => {
      const p = await load(model)
      await p.generate({ steps: 1, seed: 1 })
      await p.dispose()
    }
    await one()
    await one()
    const before = sample(0).rssMB
    for (let i = 0; i < o.disposeCycles; i++) await one()
    const after = sample(0).rssMB
    result.disposeCycles = { cycles: o.disposeCycles, rssBeforeMB: before, rssAfterMB: after, growthPercent: Math.round(((after - before) / before) * 1000) / 10 }
    log(`dispose cycles: ${JSON.stringify(result.disposeCycles)}`)
  }
  if (o.cancelRuns) {
    // abort each generation at its second step: ABORTED, and nothing left running or allocated afterwards
    const p = await load(model)
    await p.generate({ steps: 4, seed: 1 })
    const rssBefore = sample(0).rssMB
    const resourcesBefore = resources()
    let aborted = 0
    const otherErrors: string[] = []
    for (let i = 0; i < o.cancelRuns; i++) {
      const ac = new AbortController()
      try {
        await p.generate({ steps: 4, seed: i, signal: ac.signal, onProgress: (s) => void (s.step >= 2 && ac.abort()) })
        otherErrors.push('completed despite abort')
      } catch (e) {
        if ((e as { code?: string }).code === 'ABORTED') aborted++
        else otherErrors.push(String(e))
      }
    }
    // after the aborted runs the pipeline still works
    await p.generate({ steps: 1, seed: 1 })
    await p.dispose()
    await new Promise((r) => setTimeout(r, 50))
    result.cancel = { runs: o.cancelRuns, aborted, otherErrors: otherErrors.slice(0, 5), rssBeforeMB: rssBefore, rssAfterMB: sample(0).rssMB, resourcesBefore, resourcesAfter: resources() }
    log(`cancel: ${JSON.stringify(result.cancel)}`)
  }
  result.seconds = Math.round((Date.now() - started) / 1000)
  return result
}
