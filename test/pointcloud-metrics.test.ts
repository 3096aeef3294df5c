import t from 'tap'
import { chamferDistance, chamferMatrix, metricsFromMatrices, pointFlowMetrics } from '../modalities/pointcloud/index.js'

// A small deterministic PRNG (mulberry32) so that the statistical checks are reproducible.
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

function randomCloud(r: () => number, n: number, scale = 1, offset = 0): Float32Array {
  const a = new Float32Array(3 * n)
  for (let i = 0; i < a.length; i++) a[i] = (r() * 2 - 1) * scale + offset
  return a
}

// float64 reference, written the plain way: the two directions separately
function cdReference(a: Float32Array, b: Float32Array): number {
  const one = (p: Float32Array, q: Float32Array): number => {
    let s = 0
    for (let i = 0; i < p.length; i += 3) {
      let best = Infinity
      for (let j = 0; j < q.length; j += 3) {
        const d = (p[i]! - q[j]!) ** 2 + (p[i + 1]! - q[j + 1]!) ** 2 + (p[i + 2]! - q[j + 2]!) ** 2
        best = Math.min(best, d)
      }
      s += best
    }
    return s / (p.length / 3)
  }
  return one(a, b) + one(b, a)
}

t.test('Chamfer distance against a float64 brute-force reference and closed forms', async (t) => {
  const r = rng(1)
  for (const [na, nb] of [[1, 1], [7, 300], [513, 129], [1000, 1000]] as const) {
    const a = randomCloud(r, na)
    const b = randomCloud(r, nb, 0.5, 0.2)
    const want = cdReference(a, b)
    t.ok(Math.abs(chamferDistance(a, b) - want) <= 1e-12 * Math.max(1, want), `${na}x${nb}`)
    t.ok(Math.abs(chamferDistance(a, b) - chamferDistance(b, a)) < 1e-12, 'symmetric')
  }
  const a = randomCloud(r, 200)
  t.equal(chamferDistance(a, a), 0, 'identical clouds: 0')
  // one point each, distance d: d² each way
  t.equal(chamferDistance(Float32Array.of(0, 0, 0), Float32Array.of(3, 4, 0)), 50)
  // a translated copy by a vector smaller than half the spacing of a grid: every NN is the shifted twin
  const grid: number[] = []
  for (let x = 0; x < 5; x++) for (let y = 0; y < 5; y++) for (let z = 0; z < 5; z++) grid.push(x, y, z)
  const g = Float32Array.from(grid)
  const shifted = Float32Array.from(grid.map((v, i) => v + (i % 3 === 0 ? 0.25 : 0)))
  t.ok(Math.abs(chamferDistance(g, shifted) - 2 * 0.0625) < 1e-12, 'grid shifted by 0.25: 2·0.25²')
  // normalisation: a scaled, translated copy is at distance 0 in the unit-sphere frame
  const moved = Float32Array.from(a, (v, i) => v * 3 + (i % 3) * 10)
  t.ok(chamferDistance(a, moved) > 1)
  t.ok(chamferDistance(a, moved, { normalize: 'unit-sphere' }) < 1e-12)
  t.throws(() => chamferDistance(new Float32Array(0), a), { code: 'INVALID_ARGUMENT' })
  t.throws(() => chamferDistance(new Float32Array(4), a), { code: 'INVALID_ARGUMENT' })
  t.throws(() => chamferDistance(a, a, { normalize: 'cube' as never }), { code: 'INVALID_ARGUMENT' })
})

t.test('matrix = pairwise distances; PointCloud objects accepted', async (t) => {
  const r = rng(2)
  const A = [randomCloud(r, 50), randomCloud(r, 60)]
  const B = [{ positions: randomCloud(r, 40) }, { positions: randomCloud(r, 30) }, { positions: randomCloud(r, 20) }]
  const m = chamferMatrix(A, B)
  for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) t.ok(Math.abs(m[i * 3 + j]! - cdReference(A[i]!, B[j]!.positions)) < 1e-12)
  const s = chamferMatrix(A, A, { symmetric: true })
  t.equal(s[0], 0)
  t.equal(s[3], 0)
  t.equal(s[1], s[2], 'symmetric matrix')
  t.ok(Math.abs(s[1]! - cdReference(A[0]!, A[1]!)) < 1e-12)
})

// "Shapes" of a distribution: noisy spheres whose radius is drawn from [0.5, 1]
function sphereSet(seed: number, count: number, radius: [number, number], offset = 0): Float32Array[] {
  const r = rng(seed)
  return Array.from({ length: count }, () => {
    const rad = radius[0] + (radius[1] - radius[0]) * r()
    const a = new Float32Array(3 * 64)
    for (let i = 0; i < 64; i++) {
      const u = r() * 2 - 1
      const th = r() * 2 * Math.PI
      const s = Math.sqrt(1 - u * u)
      a[3 * i] = rad * s * Math.cos(th) + offset
      a[3 * i + 1] = rad * s * Math.sin(th)
      a[3 * i + 2] = rad * u
    }
    return a
  })
}

t.test('MMD, COV and 1-NNA: closed forms and the 50% / 100% ends', async (t) => {
  const ref = sphereSet(10, 40, [0.5, 1])
  // the same clouds: every cloud's nearest neighbour is its copy in the other set
  const same = pointFlowMetrics(ref, ref)
  t.equal(same.mmd, 0)
  t.equal(same.cov, 1)
  t.equal(same.nna, 0, 'copies: always classified into the other set')
  // two independent samples of one distribution: 1-NNA near 50%
  const other = sphereSet(11, 40, [0.5, 1])
  const indep = pointFlowMetrics(other, ref)
  t.ok(indep.nna > 0.3 && indep.nna < 0.7, `independent samples: 1-NNA ${indep.nna}`)
  t.ok(indep.cov > 0.4, `COV ${indep.cov}`)
  // disjoint distributions (far apart): 100%, COV from one generated cloud's choices
  const far = sphereSet(12, 40, [0.5, 1], 50)
  const dis = pointFlowMetrics(far, ref)
  t.equal(dis.nna, 1)
  t.equal(dis.nnaGenerated, 1)
  t.equal(dis.nnaReference, 1)
  t.ok(dis.mmd > 2000)
  // a hand-made 2 x 2 case: gen {0, 10}, ref {1, 20} on one axis with single-point clouds
  const p = (x: number) => Float32Array.of(x, 0, 0)
  const m = pointFlowMetrics([p(0), p(10)], [p(1), p(20)])
  // CD = 2·d²: gen0→ref0 2, gen1→ref0 162, gen1→ref1 200; ref0 min 2, ref1 min 200 → MMD 101
  t.equal(m.mmd, 101)
  t.equal(m.cov, 0.5, 'both generated clouds pick ref 0')
  // LOO: gen0 nearest is ref0 (2 < 200) ✗; gen1 nearest gen0 (200) vs ref0 (162) ✗; ref0 nearest gen0 ✗; ref1 nearest ref0 (722) vs gen1 (200) ✗
  t.equal(m.nna, 0)
  t.throws(() => metricsFromMatrices(new Float64Array(3), new Float64Array(4), new Float64Array(4), 2, 2), { code: 'SHAPE_MISMATCH' })
  t.throws(() => pointFlowMetrics([p(0)], [p(1)]), { code: 'INVALID_ARGUMENT' })
  t.throws(() => pointFlowMetrics('x' as never, []), { code: 'INVALID_ARGUMENT' })
})
