/**
 * Every failure the SDK reports on purpose is a DiffuseError with a stable `code`.
 * Codes are part of the public API: scripts may switch on them.
 */
export type DiffuseErrorCode =
  | 'INVALID_ARGUMENT' // a value of the wrong type, range or shape
  | 'INVALID_CONFIG' // a scheduler/model config key with a wrong type or value
  | 'UNKNOWN_SAMPLER' // a sampler class or alias the registry does not know
  | 'UNKNOWN_MODEL' // a bundled model name that does not exist
  | 'UNKNOWN_WORD' // speech: a word outside the model's vocabulary
  | 'UNKNOWN_CLASS' // a class label / prompt outside the model's classes
  | 'ABORTED' // an AbortSignal fired
  | 'NON_FINITE' // a model output or sampler state went NaN / Inf
  | 'SHAPE_MISMATCH' // a model returned a tensor of the wrong shape
  | 'MODEL_LOAD' // a model file is missing, truncated or not ONNX
  | 'MODEL_IO' // a model's inputs/outputs do not match the expected interface
  | 'FILE_NOT_FOUND'
  | 'FILE_FORMAT' // a malformed WAV/PLY/PNG/JSON/tokenizer file
  | 'UNSUPPORTED' // a valid request this build/file variant cannot serve
  | 'CUDA_UNAVAILABLE' // device 'cuda' asked for where no CUDA device/addon is present
  | 'NATIVE' // the native addon reported an error
  | 'DISPOSED' // an object was used after dispose()
  | 'IO' // writing a file failed

export class DiffuseError extends Error {
  readonly code: DiffuseErrorCode
  readonly details?: Record<string, unknown>
  constructor(code: DiffuseErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'DiffuseError'
    this.code = code
    if (options?.details) this.details = options.details
  }
}

/** Describes a received value for error messages: type, and a short preview. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null'
  if (v === undefined) return 'undefined'
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : `number ${v}`
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`
  if (typeof v === 'bigint') return `bigint ${v}`
  if (typeof v === 'boolean') return `boolean ${v}`
  if (Array.isArray(v)) return `array of length ${v.length}`
  if (ArrayBuffer.isView(v)) return `${v.constructor.name} of length ${(v as unknown as { length: number }).length}`
  if (typeof v === 'function') return 'function'
  const name = (v as object).constructor?.name
  return name && name !== 'Object' ? `${name} object` : 'object'
}

export function invalidArgument(name: string, expected: string, received: unknown): DiffuseError {
  return new DiffuseError('INVALID_ARGUMENT', `Expected ${name} to be ${expected} but received ${describeValue(received)}`, {
    details: { argument: name, expected },
  })
}
