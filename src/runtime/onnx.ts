import { existsSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import * as ort from 'onnxruntime-node'
import { DiffuseError } from '../errors.js'
import type { DeviceRequest } from '../native/kernels.js'

export type InferenceSession = ort.InferenceSession

export interface SessionOptions {
  /** 'cuda' asks for onnxruntime's CUDA provider and falls back to the CPU with a warning when it is missing */
  device?: DeviceRequest
  /** intra-op threads (0 or undefined: onnxruntime's default, one per physical core) */
  threads?: number
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all'
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
  const base: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
    ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
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
