/**
 * Random generators: explicit objects, never global state. `philox` is the default; `torchCpu`
 * and `torchCuda` reproduce torch.randn for a CPU or CUDA torch.Generator bit for bit.
 */
import type { Generator, GeneratorKind, GeneratorRecord } from './types.js'
import type { Kernels } from '../../native/kernels.js'
import { DiffuseError, describeValue } from '../../errors.js'
import { philox } from './philox.js'
import { torchCpu } from './torch-cpu.js'
import { torchCuda } from './torch-cuda.js'
import { checkSeed } from './seed.js'

export type { Generator, GeneratorKind, GeneratorRecord } from './types.js'
export { philox, type PhiloxOptions } from './philox.js'
export { torchCpu } from './torch-cpu.js'
export { torchCuda, type TorchCudaOptions } from './torch-cuda.js'
export { MAX_SEED } from './seed.js'

export const GENERATOR_KINDS: readonly GeneratorKind[] = Object.freeze(['philox', 'torch-cpu', 'torch-cuda'])

export interface CreateGeneratorOptions {
  /** philox: the kernels that compute the stream. */
  kernels?: Kernels
  /** torch-cuda: SM count of the GPU being reproduced (default 132, H100/H200). */
  multiProcessorCount?: number
}

function checkKind(kind: unknown, name: string): GeneratorKind {
  if (typeof kind !== 'string' || !(GENERATOR_KINDS as readonly string[]).includes(kind)) {
    throw new DiffuseError('INVALID_ARGUMENT', `Expected ${name} to be one of "philox", "torch-cpu", "torch-cuda" but received ${describeValue(kind)}`, {
      details: { argument: name, expected: GENERATOR_KINDS.join(' | ') },
    })
  }
  return kind as GeneratorKind
}

/** A fresh generator of the given kind and seed (integer in [0, 2^53 - 1]). */
export function createGenerator(kind: GeneratorKind, seed: number, options: CreateGeneratorOptions = {}): Generator {
  switch (checkKind(kind, 'kind')) {
    case 'philox':
      return philox(seed, options.kernels === undefined ? {} : { kernels: options.kernels })
    case 'torch-cpu':
      return torchCpu(seed)
    case 'torch-cuda':
      return torchCuda(seed, options.multiProcessorCount === undefined ? {} : { multiProcessorCount: options.multiProcessorCount })
  }
}

/**
 * Validates a reproduction record ({ kind, seed }, e.g. parsed from JSON) and returns a fresh
 * generator at the start of its stream.
 */
export function parseGeneratorRecord(record: unknown, options: CreateGeneratorOptions = {}): Generator {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    throw new DiffuseError('INVALID_ARGUMENT', `Expected a generator record { kind, seed } but received ${describeValue(record)}`, {
      details: { argument: 'generator', expected: '{ kind, seed }' },
    })
  }
  const r = record as Partial<GeneratorRecord>
  const kind = checkKind(r.kind, 'generator.kind')
  checkSeed(r.seed, 'generator.seed')
  return createGenerator(kind, r.seed as number, options)
}
