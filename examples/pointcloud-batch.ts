// Generates a few clouds per class with the bundled `shapes` model and saves each as PLY, GLB and an
// HTML preview (open it from the file system: three.js is inlined; drag to orbit, press play to watch
// the denoising). Run: node --import tsx examples/pointcloud-batch.ts [outDir] [steps]
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { loadPipeline } from 'diffusekit/pointcloud'

const out = process.argv[2] ?? 'clouds'
const steps = process.argv[3] ? Number(process.argv[3]) : undefined
mkdirSync(out, { recursive: true })
const gen = await loadPipeline('shapes')
try {
  for (const prompt of ['chair', 'airplane', 'teapot']) {
    for (const seed of [1, 2]) {
      const cloud = await gen.generate({ prompt, seed, trajectory: true, ...(steps ? { steps } : {}) })
      const base = join(out, `${prompt}-${seed}`)
      await cloud.save(`${base}.ply`)
      await cloud.save(`${base}.glb`)
      await cloud.save(`${base}.html`, { title: `${prompt} · seed ${seed}` })
      console.log(`${base}.{ply,glb,html}: ${cloud.count} points, ${cloud.trajectory?.length ?? 0} denoising frames`)
    }
  }
} finally {
  await gen.dispose()
}
