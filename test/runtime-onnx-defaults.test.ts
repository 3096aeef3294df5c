import t from 'tap'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { Tensor } from 'onnxruntime-common'
import { OnnxDenoiser } from '../src/runtime/onnx-denoiser.js'
import { defaultThreads } from '../src/runtime/onnx.js'
import { tinyUnet } from './helpers/onnx-builder.js'

t.test('defaultThreads counts physical cores from the Linux topology (one per package:core pair)', async (t) => {
  const n = defaultThreads()
  t.ok(Number.isInteger(n) && n >= 1 && n <= availableParallelism(), `${n} threads within 1..${availableParallelism()}`)
  let expected: number | undefined
  try {
    const pairs = new Set<string>()
    for (const cpu of readdirSync('/sys/devices/system/cpu').filter((c) => /^cpu\d+$/.test(c))) {
      const dir = join('/sys/devices/system/cpu', cpu, 'topology')
      pairs.add(readFileSync(join(dir, 'physical_package_id'), 'utf8').trim() + '/' + readFileSync(join(dir, 'core_id'), 'utf8').trim())
    }
    expected = Math.min(pairs.size, availableParallelism())
  } catch {
    expected = undefined
  }
  if (expected !== undefined && expected > 0) t.equal(n, expected, 'same count as an independent read of /sys')
  t.equal(defaultThreads(), n, 'stable across calls')
})

t.test('sessions with the default threads/no spinning, explicit threads and spinning give the same values', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dk-onnx-defaults-'))
  const file = join(dir, 'unet.onnx')
  writeFileSync(file, tinyUnet({ timestep: 'float32' }))
  const x = new Tensor('float32', Float32Array.from({ length: 2 * 4 * 3 * 3 }, (_, i) => Math.cos(i)), [2, 4, 3, 3])
  const outs: Float32Array[] = []
  for (const opts of [{}, { threads: 1 }, { threads: 2, spinning: true }]) {
    const d = await OnnxDenoiser.create(file, opts)
    outs.push((await d.predict(x, 500, {})).data as Float32Array)
    await d.dispose()
  }
  const xs = x.data as Float32Array
  let maxErr = 0
  for (let i = 0; i < xs.length; i++) maxErr = Math.max(maxErr, Math.abs(outs[0]![i]! - (0.5 * xs[i]! + 0.5)))
  t.ok(maxErr < 1e-6, `out = 0.5·x + 0.001·t (max error ${maxErr})`)
  t.same(outs[1], outs[0])
  t.same(outs[2], outs[0])
})
