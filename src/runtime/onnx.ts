import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import * as ort from 'onnxruntime-node'
import { DiffuseError } from '../errors.js'
import type { DeviceRequest } from '../native/kernels.js'

export type InferenceSession = ort.InferenceSession

export interface SessionOptions {
  /** 'cuda' asks for onnxruntime's CUDA provider and falls back to the CPU with a warning when it is missing */
  device?: DeviceRequest
  /** intra-op threads (0 or undefined: one per physical core, as onnxruntime's default, but see defaultThreads) */
  threads?: number
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all'
  /**
   * let onnxruntime's idle intra-op threads spin-wait for work (default false). Spinning saves a wake-up
   * per parallel operator on an idle machine and burns the cores when other processes want them.
   */
  spinning?: boolean
}

let physicalCores: number | undefined

/**
 * The intra-op thread count used when none is given: the number of physical cores (what onnxruntime picks
 * by itself), read from Linux's CPU topology, else the available parallelism. Passing it explicitly rather
 * than leaving 0 matters: left at 0, onnxruntime also affinitizes its threads to cores (its threading
 * docs), and on a machine that other processes share an affinitized thread waits for its core instead of
 * moving to a free one (bench/session-options.ts, BENCHMARKS.md "Session options").
 */
export function defaultThreads(): number {
  if (physicalCores !== undefined) return physicalCores
  let n = 0
  try {
    const seen = new Set<string>()
    for (const cpu of readdirSync('/sys/devices/system/cpu')) {
      if (!/^cpu\d+$/.test(cpu)) continue
      const topo = join('/sys/devices/system/cpu', cpu, 'topology')
      seen.add(`${readFileSync(join(topo, 'physical_package_id'), 'utf8').trim()}:${readFileSync(join(topo, 'core_id'), 'utf8').trim()}`)
    }
    n = Math.min(seen.size, availableParallelism())
  } catch {
    n = 0
  }
  physicalCores = n > 0 ? n : Math.max(1, availableParallelism())
  return physicalCores
}

let warnedCuda = false

/**
 * Whether onnxruntime-node's CUDA provider library is installed (its postinstall downloads it; this
 * project installs with that step skipped, so usually not). Checked first so that a missing provider is
 * one warning here rather than onnxruntime's own error log.
 */
export function cudaProviderInstalled(): boolean {
  try {
    const pkg = dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'))
    return existsSync(join(pkg, 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime_providers_cuda.so'))
  } catch {
    return false
  }
}

/**
 * Opens an ONNX model. A missing, truncated or non-ONNX file is a DiffuseError('MODEL_LOAD') that names
 * the file; external weights (model.onnx_data) next to the graph load as onnxruntime resolves them.
 */
export async function createSession(file: string, options: SessionOptions = {}): Promise<InferenceSession> {
  if (!existsSync(file)) throw new DiffuseError('MODEL_LOAD', `ONNX model ${file} does not exist`, { details: { file } })
  const st = statSync(file)
  if (!st.isFile()) throw new DiffuseError('MODEL_LOAD', `ONNX model ${file} is not a file`, { details: { file } })
  if (st.size < 16) throw new DiffuseError('MODEL_LOAD', `ONNX model ${file} is truncated (${st.size} bytes)`, { details: { file } })
  // Measured on the bundled models (BENCHMARKS.md, "Session options"): an explicit thread count without
  // spin-waiting ran a generation 1.7-2.3x faster than onnxruntime's defaults (pinned, spinning threads) on
  // the shared 2-core machine, with identical results; graph optimisation 'all' stays (no level was
  // consistently faster).
  const base: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
    intraOpNumThreads: options.threads || defaultThreads(),
    extra: { session: { intra_op: { allow_spinning: options.spinning ? '1' : '0' } } },
  }
  if (options.device === 'cuda') {
    let why = 'its provider files are not installed (onnxruntime-node was installed with its CUDA download skipped)'
    if (cudaProviderInstalled()) {
      try {
        return await ort.InferenceSession.create(file, { ...base, executionProviders: ['cuda', 'cpu'] })
      } catch (e) {
        why = (e as Error).message.split('\n')[0]!
      }
    }
    if (!warnedCuda) {
      warnedCuda = true
      console.warn(`diffusekit: onnxruntime's CUDA execution provider is not usable here: ${why}; running ONNX models on the CPU`)
    }
  }
  try {
    return await ort.InferenceSession.create(file, { ...base, executionProviders: ['cpu'] })
  } catch (e) {
    throw new DiffuseError('MODEL_LOAD', `Cannot load ONNX model ${file}: ${(e as Error).message}`, { cause: e, details: { file } })
  }
}

/** The tensor metadata of a session input, or undefined for non-tensor / unknown inputs. */
export function inputMetadata(session: InferenceSession, name: string): ort.InferenceSession.TensorValueMetadata | undefined {
  const m = session.inputMetadata.find((v) => v.name === name)
  return m && m.isTensor ? m : undefined
}
