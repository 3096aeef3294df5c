// Types for gpu-checks.mjs (plain JavaScript so that it runs on the GPU machine without a TypeScript loader).
import type { Kernels, NativeInfo, NativeAddon, DeviceRequest } from '../../src/native/index.js'

export interface GpuCheckResult {
  name: string
  ok: boolean
  detail: string
}
export interface GpuCheckApi {
  getKernels(device?: DeviceRequest): Kernels
  referenceKernels: Kernels
  nativeInfo(): NativeInfo
  loadAddon(): NativeAddon | null
}
export function runGpuChecks(api: GpuCheckApi, options?: { small?: boolean }): Promise<{ info: NativeInfo; results: GpuCheckResult[] }>
