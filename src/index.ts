// diffusekit: the core API. Modalities live in their own entries:
// 'diffusekit/audio', 'diffusekit/pointcloud', 'diffusekit/image'.

export { DiffuseError, type DiffuseErrorCode } from './errors.js'

// tensors at every boundary are onnxruntime-common Tensors
export { Tensor, floatTensor, floatData, shapeSize } from './core/tensor.js'

// the sampling loop and editing
export { sample, slerp, startIndexForStrength, type SampleOptions, type SampleResult, type StepProgress } from './core/loop.js'
export { invert, type InvertOptions } from './core/editing.js'
export { functionDenoiser, type Conditioning, type Denoiser, type DenoiserFunction } from './core/denoiser.js'

// randomness: explicit generators
export { philox, torchCpu, torchCuda, createGenerator, parseGeneratorRecord, GENERATOR_KINDS } from './core/rng/index.js'
export type { Generator, GeneratorKind, GeneratorRecord, PhiloxOptions, TorchCudaOptions } from './core/rng/index.js'

// schedules and samplers (diffusers semantics and configs)
export { createSampler, samplerNames, samplerClassNames, samplerConfigFor, resolveSamplerName, SAMPLER_ALIASES } from './core/samplers/registry.js'
export type { ModelOutput, Sampler, SamplerPlan, SamplerState, SchedulerConfig, StepInput, StepOutput } from './core/samplers/types.js'
export { makeBetas, alphasCumprod, createNoiseSchedule, rescaleZeroTerminalSnr, addNoise, BETA_SCHEDULES, type BetaSchedule, type NoiseSchedule } from './core/schedules.js'

// kernels: native CPU, CUDA, TypeScript reference
export { getKernels, nativeInfo, setNativeThreads, referenceKernels } from './native/index.js'
export type { DeviceRequest, FusedStepParams, KernelDevice, Kernels, NativeInfo, PredictionType } from './native/index.js'

// models on disk, ONNX, pipelines, workers
export { readModelFolder, resolveModel, bundledModelNames, COMPONENTS, type ModelFolder, type ComponentName, type DiffusekitConfig } from './runtime/model-folder.js'
export { createSession, type SessionOptions } from './runtime/onnx.js'
export { OnnxDenoiser, type OnnxDenoiserOptions } from './runtime/onnx-denoiser.js'
export { optionsFromRecord, type CommonGenerateOptions, type GenerationRecord, type PipelineOptions } from './runtime/pipeline.js'
export { WorkerPool, defaultPoolSize, type WorkerJob, type WorkerJobContext, type WorkerRunOptions } from './runtime/worker-pool.js'
export { packageVersion as version } from './runtime/package-root.js'
