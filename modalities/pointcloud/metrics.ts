import { DiffuseError, invalidArgument } from '../../src/errors.js'

/**
 * Point-cloud generation metrics as defined in PointFlow (Yang et al. 2019, arXiv 1906.12320, §5),
 * computed exactly (nearest neighbours by a pruned scan over x-sorted points, float64 arithmetic).
 *
 * Chamfer distance, the form used here (and in PointFlow's code):
 *   CD(X, Y) = mean_{x∈X} min_{y∈Y} ‖x − y‖² + mean_{y∈Y} min_{x∈X} ‖x − y‖²
 * (squared Euclidean distances, a mean over each cloud, summed over both directions).
 *
 * For a generated set Sg and a reference set Sr:
 *   MMD-CD  = mean_{Y∈Sr} min_{X∈Sg} CD(X, Y)                     (lower is better)
 *   COV-CD  = |{argmin_{Y∈Sr} CD(X, Y) : X ∈ Sg}| / |Sr|          (higher is better)
 *   1-NNA-CD = leave-one-out 1-nearest-neighbour classification accuracy over Sg ∪ Sr: a cloud is
 *             classified correctly when its nearest other cloud is in its own set (50% best, 100% when
 *             the sets are told apart every time). A tie counts as misclassified.
 *
 * Normalisation: by default clouds are compared as they are (the bundled model and its data live in
 * the unit bounding sphere: bounding-box centre at the origin, farthest point at distance 1);
 * `normalize: 'unit-sphere'` puts every cloud in that frame first.
 */

export type PointSet = Float32Array | { positions: Float32Array }
export type Normalization = 'none' | 'unit-sphere'

export interface PointFlowMetrics {
  /** MMD-CD */
  mmd: number
  /** COV-CD in [0, 1] */
  cov: number
  /** 1-NNA-CD in [0, 1] */
  nna: number
  /** 1-NNA accuracy on the generated clouds alone and on the reference clouds alone */
  nnaGenerated: number
  nnaReference: number
}

function positionsOf(name: string, p: PointSet): Float32Array {
  const a = p instanceof Float32Array ? p : p && typeof p === 'object' && p.positions instanceof Float32Array ? p.positions : null
  if (!a || a.length === 0 || a.length % 3 !== 0) throw invalidArgument(name, 'a non-empty Float32Array of xyz triples or a PointCloud', p)
  return a
}

/**
 * A cloud sorted by x, as structure-of-arrays (x[], y[], z[]): a nearest-neighbour query starts at
 * the query's x and walks outwards both ways, stopping each way once the x gap alone exceeds the best
 * squared distance so far. Exact, and it visits a small band of the cloud instead of all of it.
 */
interface Soa {
  n: number
  x: Float64Array
  y: Float64Array
  z: Float64Array
}

function toSoa(a: Float32Array, normalize: Normalization): Soa {
  const n = a.length / 3
  const px = new Float64Array(n)
  const py = new Float64Array(n)
  const pz = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    px[i] = a[3 * i]!
    py[i] = a[3 * i + 1]!
    pz[i] = a[3 * i + 2]!
  }
  if (normalize === 'unit-sphere') {
    const c = [px, py, pz].map((v) => {
      let lo = Infinity
      let hi = -Infinity
      for (const t of v) { if (t < lo) lo = t; if (t > hi) hi = t }
      return (lo + hi) / 2
    })
    let r = 0
    for (let i = 0; i < n; i++) {
      px[i]! -= c[0]!
      py[i]! -= c[1]!
      pz[i]! -= c[2]!
      r = Math.max(r, Math.hypot(px[i]!, py[i]!, pz[i]!))
    }
    if (r > 0) for (let i = 0; i < n; i++) { px[i]! /= r; py[i]! /= r; pz[i]! /= r }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => px[i]! - px[j]!)
  const x = new Float64Array(n)
  const y = new Float64Array(n)
  const z = new Float64Array(n)
  order.forEach((o, i) => {
    x[i] = px[o]!
    y[i] = py[o]!
    z[i] = pz[o]!
  })
  return { n, x, y, z }
}

/** First index of b.x >= v (binary search). */
function lowerBound(x: Float64Array, v: number): number {
  let lo = 0
  let hi = x.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (x[mid]! < v) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** mean over a's points of the squared distance to the nearest point of b */
function meanNearest(a: Soa, b: Soa): number {
  const bx = b.x
  const by = b.y
  const bz = b.z
  const nb = b.n
  let sum = 0
  let start = 0
  for (let i = 0; i < a.n; i++) {
    const ax = a.x[i]!
    const ay = a.y[i]!
    const az = a.z[i]!
    // a is sorted by x too, so the start index only moves forwards
    while (start < nb && bx[start]! < ax) start++
    if (start === nb) start = lowerBound(bx, ax)
    let best = Infinity
    for (let j = start; j < nb; j++) {
      const dx = bx[j]! - ax
      if (dx * dx >= best) break
      const dy = by[j]! - ay
      const dz = bz[j]! - az
      const d = dx * dx + dy * dy + dz * dz
      if (d < best) best = d
    }
    for (let j = start - 1; j >= 0; j--) {
      const dx = ax - bx[j]!
      if (dx * dx >= best) break
      const dy = by[j]! - ay
      const dz = bz[j]! - az
      const d = dx * dx + dy * dy + dz * dz
      if (d < best) best = d
    }
    sum += best
  }
  return sum / a.n
}

function chamferSoa(a: Soa, b: Soa): number {
  return meanNearest(a, b) + meanNearest(b, a)
}

/** CD(a, b) as defined above (xyz interleaved, or PointClouds). */
export function chamferDistance(a: PointSet, b: PointSet, options: { normalize?: Normalization } = {}): number {
  const norm = checkNormalization(options.normalize)
  return chamferSoa(toSoa(positionsOf('a', a), norm), toSoa(positionsOf('b', b), norm))
}

function checkNormalization(v: unknown): Normalization {
  if (v === undefined) return 'none'
  if (v !== 'none' && v !== 'unit-sphere') throw invalidArgument('normalize', '"none" or "unit-sphere"', v)
  return v
}

/** CD between every cloud of `rows` and every cloud of `cols`: a row-major Float64Array [rows, cols]. */
export function chamferMatrix(rows: readonly PointSet[], cols: readonly PointSet[], options: { normalize?: Normalization; symmetric?: boolean } = {}): Float64Array {
  const norm = checkNormalization(options.normalize)
  if (!Array.isArray(rows) || !Array.isArray(cols)) throw new DiffuseError('INVALID_ARGUMENT', 'Expected arrays of point clouds')
  const r = rows.map((p, i) => toSoa(positionsOf(`rows[${i}]`, p), norm))
  const c = options.symmetric ? r : cols.map((p, i) => toSoa(positionsOf(`cols[${i}]`, p), norm))
  const out = new Float64Array(r.length * c.length)
  for (let i = 0; i < r.length; i++) {
    for (let j = options.symmetric ? i : 0; j < c.length; j++) {
      const d = options.symmetric && i === j ? 0 : chamferSoa(r[i]!, c[j]!)
      out[i * c.length + j] = d
      if (options.symmetric) out[j * c.length + i] = d
    }
  }
  return out
}

/** MMD, COV and 1-NNA from the three Chamfer matrices (gen×ref, gen×gen, ref×ref). */
export function metricsFromMatrices(genRef: Float64Array, genGen: Float64Array, refRef: Float64Array, nGen: number, nRef: number): PointFlowMetrics {
  if (genRef.length !== nGen * nRef || genGen.length !== nGen * nGen || refRef.length !== nRef * nRef) {
    throw new DiffuseError('SHAPE_MISMATCH', 'Chamfer matrices do not match the set sizes')
  }
  if (nGen < 2 || nRef < 2) throw new DiffuseError('INVALID_ARGUMENT', '1-NNA needs at least 2 clouds in each set')
  // MMD and COV
  let mmd = 0
  const covered = new Set<number>()
  for (let j = 0; j < nRef; j++) {
    let best = Infinity
    for (let i = 0; i < nGen; i++) best = Math.min(best, genRef[i * nRef + j]!)
    mmd += best
  }
  for (let i = 0; i < nGen; i++) {
    let best = Infinity
    let arg = -1
    for (let j = 0; j < nRef; j++) {
      const d = genRef[i * nRef + j]!
      if (d < best) { best = d; arg = j }
    }
    covered.add(arg)
  }
  // 1-NNA (leave one out)
  let okGen = 0
  for (let i = 0; i < nGen; i++) {
    let own = Infinity
    for (let k = 0; k < nGen; k++) if (k !== i) own = Math.min(own, genGen[i * nGen + k]!)
    let other = Infinity
    for (let j = 0; j < nRef; j++) other = Math.min(other, genRef[i * nRef + j]!)
    if (own < other) okGen++
  }
  let okRef = 0
  for (let j = 0; j < nRef; j++) {
    let own = Infinity
    for (let k = 0; k < nRef; k++) if (k !== j) own = Math.min(own, refRef[j * nRef + k]!)
    let other = Infinity
    for (let i = 0; i < nGen; i++) other = Math.min(other, genRef[i * nRef + j]!)
    if (own < other) okRef++
  }
  return {
    mmd: mmd / nRef,
    cov: covered.size / nRef,
    nna: (okGen + okRef) / (nGen + nRef),
    nnaGenerated: okGen / nGen,
    nnaReference: okRef / nRef,
  }
}

/** MMD-CD, COV-CD and 1-NNA-CD of a generated set against a reference set (PointFlow's definitions). */
export function pointFlowMetrics(generated: readonly PointSet[], reference: readonly PointSet[], options: { normalize?: Normalization } = {}): PointFlowMetrics {
  if (!Array.isArray(generated) || !Array.isArray(reference)) throw new DiffuseError('INVALID_ARGUMENT', 'Expected generated and reference to be arrays of point clouds')
  const norm = { normalize: checkNormalization(options.normalize) }
  const gr = chamferMatrix(generated, reference, norm)
  const gg = chamferMatrix(generated, generated, { ...norm, symmetric: true })
  const rr = chamferMatrix(reference, reference, { ...norm, symmetric: true })
  return metricsFromMatrices(gr, gg, rr, generated.length, reference.length)
}
