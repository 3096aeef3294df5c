import type { FusedStepParams, Kernels } from './kernels.js'
import { checkGuidanceArgs, checkPhiloxArgs, checkStepArgs } from './check-args.js'
import { philoxNormalFill } from './philox-math.js'

/**
 * The TypeScript reference kernels: they define the semantics the native CPU and CUDA kernels must
 * reproduce, and are the fallback when the addon cannot load. Arithmetic runs in float64 and is
 * rounded to float32 once, on store; Philox noise is the exact float32 sequence of philox-math.ts.
 */

function philoxNormal(seed: bigint, offset: number, out: Float32Array): void {
  const a = checkPhiloxArgs(seed, offset, out)
  philoxNormalFill(a.k0, a.k1, a.offset, a.out)
}

/** The guidance math on already-validated arguments (also used by tests as the float64 reference). */
export function guidanceCombineF64(uncond: Float32Array, cond: Float32Array, scale: number, rescale: number, batch: number, out: Float32Array): void {
  const n = uncond.length
  const len = n / batch
  // Computed into a float64 buffer first so that out may alias uncond or cond.
  const g = new Float64Array(n)
  for (let i = 0; i < n; i++) g[i] = uncond[i]! + scale * (cond[i]! - uncond[i]!)
  if (rescale > 0 && len > 0) {
    for (let bi = 0; bi < batch; bi++) {
      const s = bi * len
      const e = s + len
      // std ratio: the (N−1) or N normalisation cancels in std(cond)/std(out)
      let mc = 0
      let mg = 0
      for (let i = s; i < e; i++) {
        mc += cond[i]!
        mg += g[i]!
      }
      mc /= len
      mg /= len
      let vc = 0
      let vg = 0
      for (let i = s; i < e; i++) {
        vc += (cond[i]! - mc) ** 2
        vg += (g[i]! - mg) ** 2
      }
      // A constant guided item has no spread to match: leave it unchanged (torch would give NaN).
      const ratio = vg > 0 ? Math.sqrt(vc / vg) : 1
      const k = rescale * ratio + (1 - rescale)
      for (let i = s; i < e; i++) g[i] = g[i]! * k
    }
  }
  for (let i = 0; i < n; i++) out[i] = g[i]!
}

function guidanceCombine(uncond: Float32Array, cond: Float32Array, scale: number, rescale: number, batch: number, out: Float32Array): void {
  checkGuidanceArgs(uncond, cond, scale, rescale, batch, out)
  guidanceCombineF64(uncond, cond, scale, rescale, batch, out)
}

function fusedStep(x: Float32Array, modelOutput: Float32Array, noise: Float32Array | null, p: FusedStepParams, out: Float32Array, x0Out?: Float32Array | null): void {
  const s = checkStepArgs(x, modelOutput, noise, p, out, x0Out)
  const n = x.length
  const { a, b, clip } = s
  const z = noise ?? null
  const x0o = x0Out ?? null
  for (let i = 0; i < n; i++) {
    const xi = x[i]!
    const mi = s.guided ? modelOutput[i]! + s.w * (modelOutput[n + i]! - modelOutput[i]!) : modelOutput[i]!
    let x0: number
    let eps: number
    if (s.prediction === 0) {
      x0 = (xi - b * mi) / a
      eps = mi
    } else if (s.prediction === 1) {
      x0 = a * xi - b * mi
      eps = a * mi + b * xi
    } else {
      x0 = mi
      eps = (xi - a * x0) / b
    }
    if (x0 > clip) x0 = clip
    else if (x0 < -clip) x0 = -clip
    if (s.recomputeEps) eps = (xi - a * x0) / b
    let v = s.coefX0 * x0 + s.coefEps * eps + s.coefSample * xi
    if (z !== null) v += s.coefNoise * z[i]!
    if (x0o !== null) x0o[i] = x0
    out[i] = v
  }
}

export const referenceKernels: Kernels = Object.freeze({
  device: 'typescript' as const,
  philoxNormal,
  async philoxNormalAsync(seed: bigint, offset: number, out: Float32Array): Promise<void> {
    philoxNormal(seed, offset, out)
  },
  guidanceCombine,
  async guidanceCombineAsync(uncond: Float32Array, cond: Float32Array, scale: number, rescale: number, batch: number, out: Float32Array): Promise<void> {
    guidanceCombine(uncond, cond, scale, rescale, batch, out)
  },
  fusedStep,
  async fusedStepAsync(x: Float32Array, modelOutput: Float32Array, noise: Float32Array | null, p: FusedStepParams, out: Float32Array, x0Out?: Float32Array | null): Promise<void> {
    fusedStep(x, modelOutput, noise, p, out, x0Out)
  },
})
