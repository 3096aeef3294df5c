// Quality of the bundled `shapes` model: for each class, PointFlow's 1-NNA-CD, COV-CD and MMD-CD of
// generated clouds against held-out clouds from the data generator (never seen in training).
//
// Held-out set (once): python3 training/shapes/shapes_data.py --split heldout --per-class 100 \
//   --format bin --out training/data/shapes_heldout.bin
// Run: node --import tsx bench/quality-shapes.ts [--per-class 100] [--classes chair,table] \
//   [--settings "default,DDIM:25:3"] [--steps 10,25,50,100] [--out training/runs/quality-shapes.json]
// A setting is sampler:steps:guidance ("default" = the model's defaults). --steps adds the model's
// default sampler and guidance at each step count. Chamfer distances compare clouds as generated
// (the model's unit-bounding-sphere frame); generated clouds use seeds 0..n-1.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { loadPipeline, pointFlowMetrics } from '../modalities/pointcloud/index.js'

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback
}

const perClass = Number(arg('per-class', '100'))
const heldPath = arg('heldout', 'training/data/shapes_heldout.bin')
const outPath = arg('out', 'training/runs/quality-shapes.json')
const meta = JSON.parse(readFileSync(heldPath + '.json', 'utf8')) as { classes: string[]; labels: number[]; points: number; channels: number }
const raw = readFileSync(heldPath)
const all = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4)
const per = meta.points * meta.channels

const gen = await loadPipeline('shapes', { threads: Number(arg('threads', '0')) || undefined })
const defaults = (gen.model.config.defaults ?? {}) as { steps?: number; guidance?: number; sampler?: string }
const classes = arg('classes', gen.classes.join(',')).split(',')
const settings: { sampler?: string; steps?: number; guidance?: number; label: string }[] = []
for (const s of arg('settings', 'default').split(',').filter(Boolean)) {
  if (s === 'default') settings.push({ label: `default (${gen.model.scheduler?._class_name}, ${defaults.steps} steps, guidance ${defaults.guidance})` })
  else {
    const [sampler, steps, guidance] = s.split(':')
    settings.push({ sampler: sampler!, steps: Number(steps), guidance: Number(guidance ?? defaults.guidance ?? 1), label: s })
  }
}
for (const st of arg('steps', '').split(',').filter(Boolean)) settings.push({ steps: Number(st), label: `default sampler, ${st} steps` })

// the held-out xyz of one class, first perClass clouds
function heldOut(cls: string): Float32Array[] {
  const id = meta.classes.indexOf(cls)
  const out: Float32Array[] = []
  meta.labels.forEach((l, i) => {
    if (l !== id || out.length >= perClass) return
    const xyz = new Float32Array(3 * meta.points)
    for (let p = 0; p < meta.points; p++) for (let c = 0; c < 3; c++) xyz[3 * p + c] = all[i * per + p * meta.channels + c]!
    out.push(xyz)
  })
  return out
}

const results: Record<string, unknown>[] = []
console.log(`per class: ${perClass} generated vs ${perClass} held-out; ${classes.length} classes; ${settings.length} settings`)
console.log('| setting | class | 1-NNA-CD | COV-CD | MMD-CD | s / cloud |')
console.log('|---|---|---|---|---|---|')
for (const s of settings) {
  const rows: { nna: number; cov: number; mmd: number }[] = []
  for (const cls of classes) {
    const ref = heldOut(cls)
    const clouds: Float32Array[] = []
    const t0 = performance.now()
    for (let seed = 0; seed < perClass; seed++) {
      const c = await gen.generate({
        prompt: cls,
        seed,
        ...(s.sampler ? { sampler: s.sampler } : {}),
        ...(s.steps ? { steps: s.steps } : {}),
        ...(s.guidance !== undefined ? { guidance: s.guidance } : {}),
      })
      clouds.push(c.positions)
    }
    const perCloud = (performance.now() - t0) / 1000 / perClass
    const t1 = performance.now()
    const m = pointFlowMetrics(clouds, ref)
    const metricSeconds = (performance.now() - t1) / 1000
    rows.push(m)
    results.push({ setting: s.label, class: cls, ...m, secondsPerCloud: perCloud, metricSeconds, n: perClass })
    console.log(`| ${s.label} | ${cls} | ${(m.nna * 100).toFixed(1)}% | ${(m.cov * 100).toFixed(1)}% | ${m.mmd.toFixed(4)} | ${perCloud.toFixed(1)} (metrics ${metricSeconds.toFixed(1)} s) |`)
  }
  const mean = (k: 'nna' | 'cov' | 'mmd') => rows.reduce((a, r) => a + r[k], 0) / rows.length
  console.log(`| ${s.label} | **mean** | ${(mean('nna') * 100).toFixed(1)}% | ${(mean('cov') * 100).toFixed(1)}% | ${mean('mmd').toFixed(4)} | |`)
}
mkdirSync(dirname(outPath), { recursive: true })
writeFileSync(outPath, JSON.stringify({ perClass, results }, null, 1))
await gen.dispose()
