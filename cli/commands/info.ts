import type { Command } from 'commander'
import { cpus } from 'node:os'
import * as ort from 'onnxruntime-node'
import { nativeInfo } from '../../src/native/loader.js'
import { bundledModelNames } from '../../src/runtime/model-folder.js'
import { packageVersion } from '../../src/runtime/package-root.js'
import { samplerNames } from '../../src/core/samplers/registry.js'
import { action } from '../shared.js'

export function register(program: Command): void {
  program
    .command('info')
    .description('version, native addon, CPU threads, CUDA device and usable ONNX execution providers')
    .option('--json', 'machine-readable output')
    .action(
      action(async (o: { json?: boolean }) => {
        const native = nativeInfo()
        const providers = ort.listSupportedBackends().map((b) => ({ name: b.name, bundled: b.bundled }))
        const info = {
          version: packageVersion(),
          node: process.version,
          cpuThreads: cpus().length,
          native,
          onnxruntime: { version: ort.env.versions.common, executionProviders: providers },
        }
        if (o.json) {
          process.stdout.write(JSON.stringify(info, null, 2) + '\n')
          return
        }
        const lines = [
          `diffusekit ${info.version} on Node ${info.node}`,
          `CPU threads: ${info.cpuThreads}`,
          `native addon: ${native.loaded ? `loaded (${native.threads} threads)` : `not loaded — TypeScript kernels in use${native.error ? `: ${native.error}` : ''}`}`,
          `CUDA: ${native.cudaAvailable ? `yes, ${native.cudaDeviceName ?? 'device 0'}` : native.cudaCompiled ? 'compiled in, no usable device' : 'not compiled in'}`,
          `ONNX execution providers: ${providers.map((p) => `${p.name}${p.bundled ? '' : ' (needs provider files)'}`).join(', ')}`,
        ]
        process.stdout.write(lines.join('\n') + '\n')
      }),
    )
  program
    .command('models')
    .description('the bundled models and the sampler names')
    .option('--json', 'machine-readable output')
    .action(
      action(async (o: { json?: boolean }) => {
        const models = bundledModelNames()
        const samplers = samplerNames()
        if (o.json) process.stdout.write(JSON.stringify({ models, samplers }, null, 2) + '\n')
        else process.stdout.write(`models: ${models.join(', ') || '(none)'}\nsamplers: ${samplers.join(', ')}\n`)
      }),
    )
}
