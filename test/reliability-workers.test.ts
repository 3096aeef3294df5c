import t from 'tap'
import { smallestBundledModel } from './helpers/soak.js'
import { readModelFolder } from '../src/runtime/model-folder.js'
import { WorkerBackedPipeline } from '../src/runtime/remote.js'

// 16 concurrent generations (in worker threads when the modality supports `workers: true`) give exactly
// the results of the same generations run one after another in this thread.

const model = await smallestBundledModel()

async function load(name: string, workers: boolean): Promise<{ generate(seed: number): Promise<Uint8Array | Float32Array>; dispose(): Promise<void>; inWorkers: boolean }> {
  const folder = await readModelFolder(name)
  if (folder.config.modality === 'image') {
    const { loadPipeline } = await import('../modalities/image/pipeline.js')
    const p = await loadPipeline(name, { workers })
    return { generate: async (seed) => (await p.generate({ prompt: 'a smiling face', steps: 2, seed })).images[0]!.data, dispose: () => p.dispose(), inWorkers: (p as unknown) instanceof WorkerBackedPipeline }
  }
  if (folder.config.modality === 'pointcloud') {
    const { loadPipeline } = await import('../modalities/pointcloud/pipeline.js')
    const p = await loadPipeline(name, { workers })
    const prompt = (folder.config.classes as string[] | undefined)?.[0] ?? 'sphere'
    return { generate: async (seed) => (await p.generate({ prompt, steps: 2, seed })).positions, dispose: () => p.dispose(), inWorkers: (p as unknown) instanceof WorkerBackedPipeline }
  }
  const { loadPipeline } = await import('../modalities/audio/pipeline.js')
  const p = await loadPipeline(name, { workers })
  // the same word on both sides: from the folder, not the pipeline (a worker-backed one has no vocabulary, and
  // the sides once said "zero" and "one")
  const text = (folder.config['words'] as string[] | undefined)?.[0] ?? 'one'
  return {
    generate: async (seed) => ((await p.generate({ text, steps: 2, seed } as never)) as unknown as { samples: Float32Array }).samples,
    dispose: () => p.dispose(),
    inWorkers: (p as unknown) instanceof WorkerBackedPipeline,
  }
}

// The smallest model, plus speech: the audio side once compared different words (see load) and needs its own run.
for (const name of new Set([model, 'speech'].filter((m): m is string => m !== undefined))) {
  t.test(`16 concurrent generations = the same generations run sequentially (${name})`, async (t) => {
    const seeds = Array.from({ length: 16 }, (_, i) => i % 4)
    const seq = await load(name, false)
    const reference = new Map<number, number[]>()
    for (const s of new Set(seeds)) reference.set(s, Array.from(await seq.generate(s)))
    await seq.dispose()
    const par = await load(name, true)
    t.comment(`${name}: ${par.inWorkers ? 'worker threads' : 'workers: true not wired for this modality yet; concurrent calls in one thread'}`)
    const results = await Promise.all(seeds.map((s) => par.generate(s)))
    await par.dispose()
    results.forEach((r, i) => t.same(Array.from(r), reference.get(seeds[i]!), `generation ${i} (seed ${seeds[i]}) equals its sequential run`))
    t.not(JSON.stringify(reference.get(0)), JSON.stringify(reference.get(1)), 'different seeds differ (the comparison is not vacuous)')
  })
}
