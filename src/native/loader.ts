import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DiffuseError, invalidArgument } from '../errors.js'
import { checkGuidanceArgs, checkPhiloxArgs, checkStepArgs, type StepArgs } from './check-args.js'
import type { DeviceRequest, FusedStepParams, Kernels } from './kernels.js'
import { referenceKernels } from './reference.js'

/**
 * The one place that loads the native addon (build/Release/diffusekit.node). Every load failure is
 * gathered into one actionable message; when the addon cannot load, the SDK runs on the TypeScript
 * reference kernels and says so once (console.warn). `DIFFUSEKIT_KERNELS=typescript` forces that
 * fallback (tests), `DIFFUSEKIT_ADDON` names the addon file to load instead of build/Release.
 */

/** What the addon exports (see native/*.cc). Other kernel families add their own functions. */
export interface NativeAddon {
  readonly version: string
  info(): NativeAddonInfo
  getThreads(): number
  setThreads(n: number): number
  philoxNormal(seed: bigint, offset: number, out: Float32Array): void
  /** The raw Philox4x32-10 block function (known-answer tests). */
  philox4x32(counter: Uint32Array, key: Uint32Array, out: Uint32Array): void
  philoxNormalAsync(seed: bigint, offset: number, out: Float32Array): Promise<void>
  guidanceCombine(uncond: Float32Array, cond: Float32Array, scale: number, rescale: number, batch: number, out: Float32Array): void
  guidanceCombineAsync(uncond: Float32Array, cond: Float32Array, scale: number, rescale: number, batch: number, out: Float32Array): Promise<void>
  fusedStep(x: Float32Array, modelOutput: Float32Array, noise: Float32Array | null, params: NativeStepParams, out: Float32Array, x0Out: Float32Array | null): void
  fusedStepAsync(x: Float32Array, modelOutput: Float32Array, noise: Float32Array | null, params: NativeStepParams, out: Float32Array, x0Out: Float32Array | null): Promise<void>
  copyF32(src: Float32Array, dst: Float32Array): void
  cudaPhiloxNormal(seed: bigint, offset: number, out: Float32Array): void
  cudaPhiloxNormalAsync(seed: bigint, offset: number, out: Float32Array): Promise<void>
  cudaGuidanceCombine(uncond: Float32Array, cond: Float32Array, scale: number, rescale: number, batch: number, out: Float32Array): void
  cudaGuidanceCombineAsync(uncond: Float32Array, cond: Float32Array, scale: number, rescale: number, batch: number, out: Float32Array): Promise<void>
  cudaFusedStep(x: Float32Array, modelOutput: Float32Array, noise: Float32Array | null, params: NativeStepParams, out: Float32Array, x0Out: Float32Array | null): void
  cudaFusedStepAsync(x: Float32Array, modelOutput: Float32Array, noise: Float32Array | null, params: NativeStepParams, out: Float32Array, x0Out: Float32Array | null): Promise<void>
  /** Times a CUDA kernel on device-resident buffers of n floats (CUDA events). */
  cudaBench(kind: CudaBenchKind, n: number, iters: number): { ms: number; bytes: number; gbps: number }
  [name: string]: unknown
}

export type CudaBenchKind = 'copy' | 'copyKernel' | 'write' | 'philox' | 'guidance' | 'guidanceRescale' | 'step' | 'guidedStep'

/** The parameter object the native fusedStep reads (prediction 0 epsilon, 1 v_prediction, 2 sample). */
export interface NativeStepParams {
  prediction: 0 | 1 | 2
  a: number
  b: number
  clip: number | null
  recomputeEps: boolean
  coefX0: number
  coefEps: number
  coefSample: number
  coefNoise: number
  guidanceScale: number | null
}

export interface NativeAddonInfo {
  version: string
  threads: number
  napiVersion: number
  simd: string
  sanitize: boolean
  cudaCompiled: boolean
  hasCuda: boolean
  cudaAvailable: boolean
  cudaDeviceCount: number
  cudaDeviceName?: string
  cudaComputeCapability?: string
  cudaTotalMemory?: number
  cudaRuntimeVersion?: number
  cudaDriverVersion?: number
  cudaError?: string
}

export interface NativeInfo {
  /** The addon loaded (and was not bypassed by DIFFUSEKIT_KERNELS=typescript). */
  loaded: boolean
  /** Why it did not load: every path tried and its failure, and what to do. */
  error?: string
  /** The addon file that loaded. */
  path?: string
  version?: string
  threads: number
  simd?: string
  sanitize?: boolean
  cudaCompiled: boolean
  cudaAvailable: boolean
  hasCuda: boolean
  cudaDeviceName?: string
  cudaComputeCapability?: string
  /** Why CUDA is not usable (no driver, no device, not compiled). */
  cudaError?: string
  /** DIFFUSEKIT_KERNELS=typescript is set. */
  forcedTypescript: boolean
}

const ADDON_FILE = 'diffusekit.node'

/** diffusekit's package root, found by walking up from this file (works from src/ and dist/). */
function packageRoot(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const pkg = join(dir, 'package.json')
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'diffusekit') return dir
      } catch {
        // unreadable: keep walking
      }
    }
    const up = dirname(dir)
    if (up === dir) return null
    dir = up
  }
}

interface LoadResult {
  addon: NativeAddon | null
  path?: string
  error?: string
}

let loadResult: LoadResult | undefined
let warned = false

function forcedTypescript(): boolean {
  return process.env.DIFFUSEKIT_KERNELS === 'typescript'
}

function tryLoad(): LoadResult {
  const root = packageRoot()
  const candidates: string[] = []
  // DIFFUSEKIT_ADDON names the one addon file to load (a sanitizer build, a test of the fallback)
  if (process.env.DIFFUSEKIT_ADDON) candidates.push(process.env.DIFFUSEKIT_ADDON)
  else if (root) {
    candidates.push(join(root, 'build', 'Release', ADDON_FILE), join(root, 'build', 'Debug', ADDON_FILE))
  }
  const failures: string[] = []
  if (!root) failures.push(`cannot find diffusekit's package.json above ${fileURLToPath(import.meta.url)}`)
  const require = createRequire(import.meta.url)
  let version: string | undefined
  try {
    version = root ? ((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: string }).version ?? undefined) : undefined
  } catch {
    version = undefined
  }
  for (const path of candidates) {
    if (!existsSync(path)) {
      failures.push(`${path}: not found`)
      continue
    }
    try {
      const addon = require(path) as NativeAddon
      if (typeof addon?.philoxNormal !== 'function' || typeof addon.info !== 'function') {
        failures.push(`${path}: loaded, but it is not the diffusekit addon (missing functions)`)
        continue
      }
      if (version !== undefined && addon.version !== version) {
        failures.push(`${path}: built for diffusekit ${addon.version}, this package is ${version} (stale build)`)
        continue
      }
      return { addon, path }
    } catch (e) {
      const msg = e instanceof Error ? e.message.split('\n')[0] : String(e)
      failures.push(`${path}: ${msg}`)
    }
  }
  const error =
    `the native addon could not be loaded; tried:\n  - ${failures.join('\n  - ')}\n` +
    `To build it: \`npm run build:native\` in the diffusekit folder (needs CMake >= 3.18 and a C++17 compiler; ` +
    `nvcc adds CUDA). Set DIFFUSEKIT_KERNELS=typescript to use the TypeScript kernels without this warning.`
  return { addon: null, error }
}

function load(): LoadResult {
  if (loadResult === undefined) loadResult = tryLoad()
  return loadResult
}

/** The raw addon object, or null when it cannot load (or DIFFUSEKIT_KERNELS=typescript). */
export function loadAddon(): NativeAddon | null {
  if (forcedTypescript()) return null
  return load().addon
}

function warnFallback(error: string): void {
  if (warned) return
  warned = true
  console.warn(`diffusekit: using the TypeScript kernels (slower): ${error}`)
}

/** What loaded, threads, and whether CUDA is compiled in and usable. */
export function nativeInfo(): NativeInfo {
  const forced = forcedTypescript()
  const r = load()
  if (forced || r.addon === null) {
    const info: NativeInfo = { loaded: false, threads: 1, cudaCompiled: false, cudaAvailable: false, hasCuda: false, forcedTypescript: forced }
    info.error = forced ? 'DIFFUSEKIT_KERNELS=typescript is set' : r.error
    info.cudaError = 'the native addon is not loaded'
    return info
  }
  const a = r.addon.info()
  const info: NativeInfo = {
    loaded: true,
    path: r.path,
    version: a.version,
    threads: a.threads,
    simd: a.simd,
    sanitize: a.sanitize,
    cudaCompiled: a.cudaCompiled,
    cudaAvailable: a.cudaAvailable,
    hasCuda: a.cudaAvailable,
    forcedTypescript: false,
  }
  if (a.cudaDeviceName !== undefined) info.cudaDeviceName = a.cudaDeviceName
  if (a.cudaComputeCapability !== undefined) info.cudaComputeCapability = a.cudaComputeCapability
  if (a.cudaError !== undefined) info.cudaError = a.cudaError
  return info
}

/** Sets the native CPU thread count (1..256); returns the count in effect (1 without the addon). */
export function setNativeThreads(n: number): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 256) throw invalidArgument('threads', 'an integer in [1, 256]', n)
  const addon = loadAddon()
  if (!addon) return 1
  return addon.setThreads(n)
}

/** Arrays below this many floats run synchronously even through the *Async methods (a worker costs more). */
export const ASYNC_THRESHOLD = 1 << 16

/** A native exception as a DiffuseError: argument errors (which TypeScript checks should have caught) or NATIVE. */
function nativeError(e: unknown): DiffuseError {
  if (e instanceof DiffuseError) return e
  const msg = e instanceof Error ? e.message : String(e)
  const code = e instanceof TypeError || e instanceof RangeError ? 'INVALID_ARGUMENT' : 'NATIVE'
  return new DiffuseError(code, msg, { cause: e })
}

function toNativeParams(s: StepArgs): NativeStepParams {
  return {
    prediction: s.prediction,
    a: s.a,
    b: s.b,
    clip: Number.isFinite(s.clip) ? s.clip : null,
    recomputeEps: s.recomputeEps,
    coefX0: s.coefX0,
    coefEps: s.coefEps,
    coefSample: s.coefSample,
    coefNoise: s.coefNoise,
    guidanceScale: s.guided ? s.w : null,
  }
}

interface NativeFns {
  philox: NativeAddon['philoxNormal']
  philoxAsync: NativeAddon['philoxNormalAsync']
  guidance: NativeAddon['guidanceCombine']
  guidanceAsync: NativeAddon['guidanceCombineAsync']
  step: NativeAddon['fusedStep']
  stepAsync: NativeAddon['fusedStepAsync']
}

function makeKernels(device: 'cpu' | 'cuda', f: NativeFns): Kernels {
  // CUDA copies host arrays to the device on every call: for it, asynchronous means "off the event loop".
  const threshold = device === 'cuda' ? 0 : ASYNC_THRESHOLD
  function philoxNormal(seed: bigint, offset: number, out: Float32Array): void {
    checkPhiloxArgs(seed, offset, out)
    try {
      f.philox(seed, offset, out)
    } catch (e) {
      throw nativeError(e)
    }
  }
  function guidanceCombine(uncond: Float32Array, cond: Float32Array, scale: number, rescale: number, batch: number, out: Float32Array): void {
    checkGuidanceArgs(uncond, cond, scale, rescale, batch, out)
    try {
      f.guidance(uncond, cond, scale, rescale, batch, out)
    } catch (e) {
      throw nativeError(e)
    }
  }
  function fusedStep(x: Float32Array, m: Float32Array, noise: Float32Array | null, p: FusedStepParams, out: Float32Array, x0Out?: Float32Array | null): void {
    const s = checkStepArgs(x, m, noise, p, out, x0Out)
    try {
      f.step(x, m, noise ?? null, toNativeParams(s), out, x0Out ?? null)
    } catch (e) {
      throw nativeError(e)
    }
  }
  return Object.freeze({
    device,
    philoxNormal,
    async philoxNormalAsync(seed: bigint, offset: number, out: Float32Array): Promise<void> {
      checkPhiloxArgs(seed, offset, out)
      if (out.length < threshold) return philoxNormal(seed, offset, out)
      await f.philoxAsync(seed, offset, out).catch((e: unknown) => {
        throw nativeError(e)
      })
    },
    guidanceCombine,
    async guidanceCombineAsync(uncond: Float32Array, cond: Float32Array, scale: number, rescale: number, batch: number, out: Float32Array): Promise<void> {
      checkGuidanceArgs(uncond, cond, scale, rescale, batch, out)
      if (out.length < threshold) return guidanceCombine(uncond, cond, scale, rescale, batch, out)
      await f.guidanceAsync(uncond, cond, scale, rescale, batch, out).catch((e: unknown) => {
        throw nativeError(e)
      })
    },
    fusedStep,
    async fusedStepAsync(x: Float32Array, m: Float32Array, noise: Float32Array | null, p: FusedStepParams, out: Float32Array, x0Out?: Float32Array | null): Promise<void> {
      const s = checkStepArgs(x, m, noise, p, out, x0Out)
      if (x.length < threshold) return fusedStep(x, m, noise, p, out, x0Out)
      await f.stepAsync(x, m, noise ?? null, toNativeParams(s), out, x0Out ?? null).catch((e: unknown) => {
        throw nativeError(e)
      })
    },
  })
}

let cpuKernels: Kernels | undefined
let cudaKernels: Kernels | undefined

function nativeCpu(a: NativeAddon): Kernels {
  if (!cpuKernels) {
    cpuKernels = makeKernels('cpu', {
      philox: a.philoxNormal,
      philoxAsync: a.philoxNormalAsync,
      guidance: a.guidanceCombine,
      guidanceAsync: a.guidanceCombineAsync,
      step: a.fusedStep,
      stepAsync: a.fusedStepAsync,
    })
  }
  return cpuKernels
}

function nativeCuda(a: NativeAddon): Kernels {
  if (!cudaKernels) {
    cudaKernels = makeKernels('cuda', {
      philox: a.cudaPhiloxNormal,
      philoxAsync: a.cudaPhiloxNormalAsync,
      guidance: a.cudaGuidanceCombine,
      guidanceAsync: a.cudaGuidanceCombineAsync,
      step: a.cudaFusedStep,
      stepAsync: a.cudaFusedStepAsync,
    })
  }
  return cudaKernels
}

const DEVICES: readonly DeviceRequest[] = ['cpu', 'cuda', 'auto', 'typescript']

/**
 * The kernels for a device: 'typescript' the reference; 'cpu' the native addon (the TypeScript
 * kernels, with one warning, when it cannot load); 'cuda' the CUDA kernels or
 * DiffuseError('CUDA_UNAVAILABLE'); 'auto' CUDA when usable, else the native CPU, else TypeScript.
 */
export function getKernels(device: DeviceRequest = 'auto'): Kernels {
  if (typeof device !== 'string' || !DEVICES.includes(device)) {
    throw invalidArgument('device', `one of ${DEVICES.map((d) => JSON.stringify(d)).join(', ')}`, device)
  }
  if (device === 'typescript') return referenceKernels
  const forced = forcedTypescript()
  const r = forced ? { addon: null, error: 'DIFFUSEKIT_KERNELS=typescript is set' } : load()
  const addon = r.addon
  if (device === 'cuda') {
    if (!addon) throw new DiffuseError('CUDA_UNAVAILABLE', `device 'cuda' was requested, but ${r.error}`)
    const info = addon.info()
    if (!info.cudaCompiled) {
      throw new DiffuseError('CUDA_UNAVAILABLE', `device 'cuda' was requested, but the native addon was built without CUDA: ${info.cudaError ?? ''}`)
    }
    if (!info.cudaAvailable) {
      throw new DiffuseError('CUDA_UNAVAILABLE', `device 'cuda' was requested, but no usable CUDA device was found: ${info.cudaError ?? 'unknown reason'}`)
    }
    return nativeCuda(addon)
  }
  if (!addon) {
    if (!forced) warnFallback(r.error ?? 'unknown error')
    return referenceKernels
  }
  if (device === 'auto' && addon.info().cudaAvailable) return nativeCuda(addon)
  return nativeCpu(addon)
}
