// The native layer's public surface: kernel selection, addon status, the reference kernels.
export type { DeviceRequest, FusedStepParams, KernelDevice, Kernels, PredictionType } from './kernels.js'
export { referenceKernels } from './reference.js'
export { getKernels, loadAddon, nativeInfo, setNativeThreads, ASYNC_THRESHOLD } from './loader.js'
export type { CudaBenchKind, NativeAddon, NativeAddonInfo, NativeInfo, NativeStepParams } from './loader.js'
export { philoxNormalFill, philox4x32_10, seedKey } from './philox-math.js'
