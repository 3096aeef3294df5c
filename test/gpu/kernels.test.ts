import t from 'tap'
import { getKernels, loadAddon, nativeInfo, referenceKernels } from '../../src/native/index.js'
import { runGpuChecks } from '../../bench/gpu/gpu-checks.mjs'

// CUDA kernels vs the TypeScript reference and the native CPU kernels. The same checks run as a plain
// node script on the GPU machine (bench/gpu/run-gpu-checks.mjs); test/gpu/LOG.md keeps the last run.
const info = nativeInfo()
if (!info.cudaAvailable) {
  t.plan(0, `no CUDA device: ${info.cudaError ?? info.error ?? 'unknown'}`)
} else {
  t.test(`CUDA kernels on ${info.cudaDeviceName}`, async (t) => {
    const { results } = await runGpuChecks({ getKernels, referenceKernels, nativeInfo, loadAddon })
    for (const r of results) t.ok(r.ok, `${r.name}: ${r.detail}`)
  })
}
