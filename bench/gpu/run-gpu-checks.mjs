// The GPU checks and the CUDA kernel timings as a plain node script (the GPU machine has Node but no
// npm/tsx). Imports compiled sources: build/gpu-dist (npx tsc of src/native, see gpu_job.sh) or dist/.
//   node bench/gpu/run-gpu-checks.mjs --checks [--small]      correctness, exit 1 on any failure
//   node bench/gpu/run-gpu-checks.mjs --bench --json out.json  cudaBench on device buffers, 64K..256M floats
import { existsSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { runGpuChecks } from './gpu-checks.mjs'

const args = process.argv.slice(2)
const candidates = ['../../build/gpu-dist/native/index.js', '../../dist/src/native/index.js']
const found = candidates.map((c) => new URL(c, import.meta.url)).find((u) => existsSync(fileURLToPath(u)))
if (!found) {
  console.error('compiled sources not found: run `npm run build` (dist/) or see gpu_job.sh (build/gpu-dist)')
  process.exit(2)
}
const api = await import(found.href)
const info = api.nativeInfo()
console.log(JSON.stringify(info))
let failed = 0

if (args.includes('--checks')) {
  const { results } = await runGpuChecks(api, { small: args.includes('--small') })
  for (const r of results) {
    console.log(`${r.ok ? 'ok    ' : 'FAILED'} ${r.name}: ${r.detail}`)
    if (!r.ok) failed++
  }
  console.log(`${results.length - failed} passed, ${failed} failed on ${info.cudaDeviceName ?? 'no device'}`)
}

if (args.includes('--bench')) {
  const addon = api.loadAddon()
  const kinds = ['copy', 'copyKernel', 'write', 'philox', 'guidance', 'guidanceRescale', 'step', 'guidedStep']
  const rows = []
  for (let n = 65536; n <= 256 * 1024 * 1024; n *= 4) {
    for (const kind of kinds) {
      // ~0.5 GB of traffic per measurement, at least 20 launches
      const iters = Math.max(20, Math.min(2000, Math.round(5e8 / (n * 4 * 5))))
      const r = addon.cudaBench(kind, n, iters)
      rows.push({ kind, n, iters, ms: r.ms, bytes: r.bytes, gbps: r.gbps })
      console.log(`${kind.padEnd(16)} n=${String(n).padStart(10)} ${r.ms.toFixed(4)} ms ${r.gbps.toFixed(1)} GB/s`)
    }
  }
  const i = args.indexOf('--json')
  if (i >= 0) writeFileSync(args[i + 1], JSON.stringify({ device: info.cudaDeviceName, info, rows }, null, 1))
}
process.exit(failed ? 1 : 0)
