/**
 * Every CPU benchmark in sequence, each in its own Node process (one crashing or missing its inputs does
 * not stop the others), with its table printed as it runs:
 *   npx tsx bench/all.ts                 (about 20 minutes on 2 cores)
 *   npx tsx bench/all.ts --quick         (shorter settings where a bench has them)
 *   npx tsx bench/all.ts --only end-to-end,session-options
 *   npx tsx bench/all.ts --quality       (also the model-quality benches: long, need scripts/setup-audio.sh)
 * GPU benchmarks run on a CUDA machine: `bash bench/gpu/gpu_job.sh` (see BENCHMARKS.md).
 */
import { spawnSync } from 'node:child_process'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'

const args = process.argv.slice(2)
const quick = args.includes('--quick')
const only = args.includes('--only') ? (args[args.indexOf('--only') + 1] ?? '').split(',') : undefined
const root = fileURLToPath(new URL('..', import.meta.url))

interface Bench {
  name: string
  args: string[]
  env?: Record<string, string>
  quality?: boolean
}

const BENCHES: Bench[] = [
  { name: 'kernels', args: quick ? ['--max', '16777216', '--no-write'] : [] },
  { name: 'rng', args: [] },
  { name: 'samplers', args: [], ...(quick ? { env: { BENCH_MS: '300' } } : {}) },
  { name: 'griffin-lim', args: quick ? ['--quick'] : [] },
  { name: 'end-to-end', args: [], ...(quick ? { env: { BENCH_REPS: '1' } } : {}) },
  { name: 'session-options', args: [], ...(quick ? { env: { BENCH_ROUNDS: '1' } } : {}) },
  { name: 'reference', args: [], ...(quick ? { env: { BENCH_REPS: '1' } } : {}) },
  { name: 'quality-audio', args: [], quality: true },
  { name: 'quality-image', args: [], quality: true },
]

const failed: string[] = []
for (const b of BENCHES) {
  if (only ? !only.includes(b.name) : b.quality && !args.includes('--quality')) continue
  console.log(`\n===== bench/${b.name}.ts ${b.args.join(' ')} (load average ${loadavg()[0]!.toFixed(1)}) =====`)
  const t0 = performance.now()
  const r = spawnSync(process.execPath, ['--import', 'tsx', `bench/${b.name}.ts`, ...b.args], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, ...(b.env ?? {}) },
  })
  const s = ((performance.now() - t0) / 1000).toFixed(0)
  if (r.status !== 0) failed.push(b.name)
  console.log(`===== ${b.name}: ${r.status === 0 ? 'done' : `FAILED (exit ${r.status ?? r.signal})`} in ${s} s =====`)
}
if (failed.length) {
  console.log(`\nfailed: ${failed.join(', ')}`)
  process.exitCode = 1
}
