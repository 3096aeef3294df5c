/** Kinds of random generator; each reproduces a documented stream exactly. */
export type GeneratorKind = 'philox' | 'torch-cpu' | 'torch-cuda'

/** What reproduces a generator: its kind and seed (JSON-safe). */
export interface GeneratorRecord {
  kind: GeneratorKind
  seed: number
}

/**
 * An explicit, stateful source of standard normal noise. Each call draws the next values of the
 * stream, as torch.randn does with a torch.Generator. Never shared between runs unless the caller
 * shares it.
 */
export interface Generator {
  readonly kind: GeneratorKind
  readonly seed: number
  /** Draws the next shapeSize(shape) standard normal values, in the order torch.randn(shape) would. */
  randn(shape: readonly number[]): Float32Array
  /** A fresh generator with the same kind and seed, at the start of its stream. */
  fresh(): Generator
  toJSON(): GeneratorRecord
}
