/**
 * Recovers the GPU's sin/cos coefficient table from measurements, and writes it as
 * src/core/rng/mufu-table.ts (plus a small fixture of measured values for the tests).
 *
 *   npx tsx training/rng/fit_mufu.ts <folder> [--dry]
 *
 * <folder> holds what training/rng/measure_mufu.cu wrote on the GPU machine (mufu_index.json,
 * mufu_sweep.bin[.gz], mufu_edge.bin[.gz]); --dry fits and reports without writing files.
 *
 * The evaluation model is src/core/rng/mufu-model.ts: for interval k of a quadrant and 17-bit
 * offset xl, the unit's float32 output is trunc24(S) with
 *   S = c0·2^31 + c1·xl·2^19 − c2·sq(xl)   (units of 2^-56).
 * A measured output y > 0 therefore says y·2^56 ≤ S < (y + ulp(y))·2^56: two linear inequalities
 * in the integers (c0, c1, c2). The sweep gives every offset of every interval twice (sine at
 * fraction r, cosine at its complement), 2^18 pairs of inequalities per interval. For each
 * interval we take a least-squares estimate, scan (c1, c2) around it on a subsample, and for each
 * survivor compute on all points the exact range of c0 that satisfies everything. Any triple in
 * that set reproduces every measured output of the interval; we report how many there are and
 * keep the one nearest the least-squares estimate.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gunzipSync } from 'node:zlib'
import { bitsFromFloat, floatFromBits } from '../../src/core/rng/float32.js'
import { mufuCos, mufuReduce, mufuSin, mufuSquare } from '../../src/core/rng/mufu-model.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const TABLE_FILE = join(ROOT, 'src/core/rng/mufu-table.ts')
const FIXTURE_FILE = join(ROOT, 'test/fixtures/rng/mufu_sample.json')

interface Index {
  device: string
  compute_capability: string
  sms: number
  cuda_driver?: number
  cuda_runtime?: number
  measured_at: string
  sweep: { file: string; count: number; sincosf_differs: { sin: number; cos: number } }
  edge: { file: string; count: number; sincosf_differs: { sin: number; cos: number }; categories: string[] }
}

function readMaybeGz(dir: string, name: string): Buffer {
  const p = join(dir, name)
  if (existsSync(p)) return readFileSync(p)
  if (existsSync(p + '.gz')) return gunzipSync(readFileSync(p + '.gz'))
  throw new Error(`missing ${p}[.gz]`)
}

const args = process.argv.slice(2)
const dry = args.includes('--dry')
const dir = args.find((a) => !a.startsWith('--'))
if (!dir) {
  console.error('usage: npx tsx training/rng/fit_mufu.ts <measurement folder> [--dry]')
  process.exit(2)
}
const index = JSON.parse(readFileSync(join(dir, 'mufu_index.json'), 'utf8')) as Index
console.log(`measurements: ${index.device} (cc ${index.compute_capability}, ${index.sms} SMs) at ${index.measured_at}`)

// ---- Sweep: undo the delta coding.
const N = index.sweep.count
const sweepRaw = readMaybeGz(dir, index.sweep.file)
if (sweepRaw.length !== 12 * N) throw new Error(`sweep file has ${sweepRaw.length} bytes, expected ${12 * N}`)
const sweepWords = new Uint32Array(sweepRaw.buffer, sweepRaw.byteOffset, 3 * N)
function undelta(part: number): Uint32Array {
  const out = new Uint32Array(N)
  let prev = 0
  for (let i = 0; i < N; i++) out[i] = prev = (prev + sweepWords[part * N + i]!) >>> 0
  return out
}
const sx = undelta(0)
const ssin = undelta(1)
const scos = undelta(2)

// ---- Constraints per interval, from the quadrant-0 sweep.
const OFFSET = 1 << 17
const M = 2 * OFFSET
const ptXl: Int32Array[] = []
const ptY: Uint32Array[] = []
const fill = new Int32Array(64)
for (let k = 0; k < 64; k++) {
  ptXl.push(new Int32Array(M))
  ptY.push(new Uint32Array(M))
}
const red = new Int32Array(2)
let offQuadrant = 0
let negativeOut = 0
function addPoint(r: number, y: number): void {
  if (y >>> 31) {
    negativeOut++
    return
  }
  const k = r >>> 17
  const j = fill[k]!++
  ptXl[k]![j] = r & (OFFSET - 1)
  ptY[k]![j] = y
}
for (let i = 0; i < N; i++) {
  mufuReduce(floatFromBits(sx[i]!), red)
  if (red[0] !== 0) {
    offQuadrant++
    continue
  }
  const r = red[1]!
  addPoint(r, ssin[i]!)
  addPoint(~r & 0x7fffff, scos[i]!)
}
console.log(`sweep: ${N} inputs; outside quadrant 0: ${offQuadrant}; negative outputs: ${negativeOut}`)

// ---- The fit.
const SPLIT = 2 ** 19
interface Bounds {
  yh: Float64Array
  yl: Float64Array
  uh: Float64Array
  ul: Float64Array
  sq: Float64Array
  xl: Float64Array
  zero: Uint8Array
}

function prepare(k: number): Bounds {
  const n = fill[k]!
  const b: Bounds = {
    yh: new Float64Array(n),
    yl: new Float64Array(n),
    uh: new Float64Array(n),
    ul: new Float64Array(n),
    sq: new Float64Array(n),
    xl: new Float64Array(n),
    zero: new Uint8Array(n),
  }
  for (let i = 0; i < n; i++) {
    const xl = ptXl[k]![i]!
    b.xl[i] = xl
    b.sq[i] = mufuSquare(xl)
    const y = floatFromBits(ptY[k]![i]!)
    if (y === 0) {
      b.zero[i] = 1
      continue
    }
    // Y = y·2^56 split at 2^19: Y/2^19 = y·2^37 is exact, its integer part is Yh.
    const t = y * 2 ** 37
    b.yh[i] = Math.floor(t)
    b.yl[i] = (t - b.yh[i]!) * SPLIT
    const e = Math.floor(Math.log2(y)) // exponent of y (y is a normal float32 here)
    const ue = e - 23 + 56 // ulp(y)·2^56 = 2^ue
    if (ue >= 19) {
      b.uh[i] = 2 ** (ue - 19)
      b.ul[i] = 0
    } else {
      b.uh[i] = 0
      b.ul[i] = 2 ** ue
    }
  }
  return b
}

/**
 * For a given c2: per point, the inclusive range [lo, hi] that A = c0·2^12 + c1·xl (the first two
 * terms of S over 2^19) must lie in. Y ≤ S < Y + U with S = A·2^19 − B, B = c2·sq:
 *   A ≥ ceil((Y + B) / 2^19),  A ≤ ceil((Y + U + B) / 2^19) − 1,  and for y = 0 (S ≤ 0): A ≤ B / 2^19.
 */
function aRange(b: Bounds, c2: number, lo: Float64Array, hi: Float64Array, idx: Int32Array | null): void {
  const n = idx ? idx.length : b.xl.length
  for (let j = 0; j < n; j++) {
    const i = idx ? idx[j]! : j
    const B = c2 * b.sq[i]!
    const bh = Math.floor(B / SPLIT)
    const bl = B - bh * SPLIT
    if (b.zero[i]) {
      lo[j] = -Infinity
      hi[j] = bh
      continue
    }
    lo[j] = b.yh[i]! + bh + Math.ceil((b.yl[i]! + bl) / SPLIT)
    hi[j] = b.yh[i]! + b.uh[i]! + bh + Math.ceil((b.yl[i]! + b.ul[i]! + bl) / SPLIT) - 1
  }
}

/** Exact c0 range for (c1, c2) over the points in lo/hi (aRange output). */
function c0Range(b: Bounds, c1: number, lo: Float64Array, hi: Float64Array, idx: Int32Array | null): [number, number] {
  const n = idx ? idx.length : b.xl.length
  let mx = -Infinity
  let mn = Infinity
  for (let j = 0; j < n; j++) {
    const t = c1 * b.xl[idx ? idx[j]! : j]!
    const l = lo[j]! - t
    const h = hi[j]! - t
    if (l > mx) mx = l
    if (h < mn) mn = h
    if (mx > mn) return [1, 0]
  }
  return [Math.ceil(mx / 4096), Math.floor(mn / 4096)]
}

/** Least-squares (c0, c1, c2) on the interval midpoints of the measured outputs. */
function leastSquares(b: Bounds): [number, number, number] {
  // Unknowns scaled so their columns are O(1): S = a + β·u − γ·v, u = xl/2^17, v = sq/2^34.
  const A = [0, 0, 0, 0, 0, 0, 0, 0, 0]
  const rhs = [0, 0, 0]
  const n = b.xl.length
  for (let i = 0; i < n; i++) {
    const s = b.zero[i] ? 0 : ((b.yh[i]! + b.uh[i]! / 2) * SPLIT + b.yl[i]! + b.ul[i]! / 2) / 2 ** 56
    const row = [1, b.xl[i]! / OFFSET, -b.sq[i]! / 2 ** 34]
    for (let p = 0; p < 3; p++) {
      rhs[p]! += row[p]! * s
      for (let q = 0; q < 3; q++) A[3 * p + q]! += row[p]! * row[q]!
    }
  }
  // Gaussian elimination with partial pivoting on the 3×3 system.
  const m = [0, 1, 2].map((p) => [A[3 * p]!, A[3 * p + 1]!, A[3 * p + 2]!, rhs[p]!])
  for (let c = 0; c < 3; c++) {
    let piv = c
    for (let r = c + 1; r < 3; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[piv]![c]!)) piv = r
    ;[m[c], m[piv]] = [m[piv]!, m[c]!]
    for (let r = 0; r < 3; r++) {
      if (r === c) continue
      const f = m[r]![c]! / m[c]![c]!
      for (let q = c; q < 4; q++) m[r]![q]! -= f * m[c]![q]!
    }
  }
  const [a, beta, gamma] = [0, 1, 2].map((p) => m[p]![3]! / m[p]![p]!) as [number, number, number]
  // a = c0·2^-25, β = c1·2^-14·2^17·2^-23 = c1·2^-20, γ = c2·2^-10·2^34·2^-46 = c2·2^-22.
  return [a * 2 ** 25, beta * 2 ** 20, gamma * 2 ** 22]
}

interface Fit {
  c0: number
  c1: number
  c2: number
  solutions: number
  lsq: [number, number, number]
}

function fitInterval(k: number): Fit | null {
  const b = prepare(k)
  const n = b.xl.length
  const lsq = leastSquares(b)
  // Subsample: every 16th point plus both ends, enough to prune (c1, c2) quickly.
  const sub: number[] = []
  for (let i = 0; i < n; i += 16) sub.push(i)
  sub.push(n - 1)
  const idx = Int32Array.from(sub)
  const lo = new Float64Array(n)
  const hi = new Float64Array(n)
  for (const W of [8, 64]) {
    const c1c = Math.round(lsq[1])
    const c2c = Math.round(lsq[2])
    const survivors: [number, number][] = []
    for (let c2 = Math.max(0, c2c - W); c2 <= c2c + W; c2++) {
      aRange(b, c2, lo, hi, idx)
      for (let c1 = c1c - W; c1 <= c1c + W; c1++) {
        const [a0, a1] = c0Range(b, c1, lo, hi, idx)
        if (a0 <= a1) survivors.push([c1, c2])
      }
    }
    let best: Fit | null = null
    let solutions = 0
    let bestDist = Infinity
    let lastC2 = -1
    for (const [c1, c2] of survivors) {
      if (c2 !== lastC2) {
        aRange(b, c2, lo, hi, null)
        lastC2 = c2
      }
      const [a0, a1] = c0Range(b, c1, lo, hi, null)
      if (a0 > a1) continue
      solutions += a1 - a0 + 1
      const c0 = Math.min(a1, Math.max(a0, Math.round(lsq[0])))
      // Distance in output units (2^-56) at the interval's far end.
      const d = ((c0 - lsq[0]) * 2 ** 31) ** 2 + ((c1 - lsq[1]) * 2 ** 36) ** 2 + ((c2 - lsq[2]) * 2 ** 34) ** 2
      if (d < bestDist) {
        bestDist = d
        best = { c0, c1, c2, solutions: 0, lsq }
      }
    }
    if (best) {
      best.solutions = solutions
      return best
    }
  }
  return null
}

const table = new Uint32Array(192)
const failed: number[] = []
const t0 = Date.now()
for (let k = 0; k < 64; k++) {
  const fit = fitInterval(k)
  if (!fit) {
    failed.push(k)
    console.log(`interval ${k}: NO exact fit within ±64 of the least-squares estimate`)
    continue
  }
  table[3 * k] = fit.c0
  table[3 * k + 1] = fit.c1
  table[3 * k + 2] = fit.c2
  console.log(
    `interval ${String(k).padStart(2)}: c0=0x${fit.c0.toString(16)} c1=0x${fit.c1.toString(16)} c2=0x${fit.c2.toString(16)}` +
      `  exact solutions ${fit.solutions}  (least squares ${fit.lsq.map((v) => v.toFixed(2)).join(', ')})`,
  )
}
console.log(`fit: ${64 - failed.length}/64 intervals exact in ${((Date.now() - t0) / 1000).toFixed(1)} s${failed.length ? '; NO exact fit for ' + failed.join(', ') : ''}`)

// ---- Verify every measurement against the full model (reduction + quadratic + signs).
const bitsOf = (v: number) => bitsFromFloat(v) >>> 0
let sweepBad = 0
for (let i = 0; i < N; i++) {
  const x = floatFromBits(sx[i]!)
  if (bitsOf(mufuSin(table, x)) !== ssin[i]) sweepBad++
  if (bitsOf(mufuCos(table, x)) !== scos[i]) sweepBad++
}
console.log(`verify sweep: ${2 * N - sweepBad}/${2 * N} outputs bit-exact`)

const E = index.edge.count
const edgeRaw = readMaybeGz(dir, index.edge.file)
if (edgeRaw.length !== 21 * E) throw new Error(`edge file has ${edgeRaw.length} bytes, expected ${21 * E}`)
const ew = new Uint32Array(edgeRaw.buffer.slice(edgeRaw.byteOffset, edgeRaw.byteOffset + 20 * E))
const ecat = new Uint8Array(edgeRaw.buffer, edgeRaw.byteOffset + 20 * E, E)
const ex = ew.subarray(0, E)
const es = ew.subarray(E, 2 * E)
const ec = ew.subarray(2 * E, 3 * E)
const efs = ew.subarray(3 * E, 4 * E)
const efc = ew.subarray(4 * E, 5 * E)
let intrinsicDiffers = 0
for (let i = 0; i < E; i++) if (es[i] !== efs[i] || ec[i] !== efc[i]) intrinsicDiffers++
console.log(
  `__sincosf vs sin/cos.approx.f32: sweep differs ${index.sweep.sincosf_differs.sin}+${index.sweep.sincosf_differs.cos}, edge differs ${intrinsicDiffers}`,
)

const INV_2PI = floatFromBits(0x3e22f983)
const cats = index.edge.categories
const perCat = cats.map(() => ({ n: 0, ok: 0, examples: [] as string[] }))
let rnWouldDiffer = 0
let rnCellCrossings = 0
const byX = new Map<number, number>()
for (let i = 0; i < E; i++) byX.set(ex[i]!, i)
let negSym = 0
let negN = 0
const hex = (u: number) => '0x' + (u >>> 0).toString(16).padStart(8, '0')
for (let i = 0; i < E; i++) {
  const name = cats[ecat[i]!]!
  const x = floatFromBits(ex[i]!)
  const c = perCat[ecat[i]!]!
  if (name === 'negative') {
    // Outside the model's domain (x ≥ 0); what we learn is how the hardware treats the sign.
    const j = byX.get((ex[i]! & 0x7fffffff) >>> 0)
    if (j !== undefined) {
      negN++
      if (es[i] === ((es[j]! ^ 0x80000000) >>> 0) && ec[i] === ec[j]) negSym++
    }
    continue
  }
  if (name === 'special' || !Number.isFinite(x) || x < 0) {
    if (c.examples.length < 8) c.examples.push(`x=${hex(ex[i]!)} sin=${hex(es[i]!)} cos=${hex(ec[i]!)}`)
    continue
  }
  c.n++
  const okS = bitsOf(mufuSin(table, x)) === es[i]
  const okC = bitsOf(mufuCos(table, x)) === ec[i]
  if (okS && okC) c.ok++
  else if (c.examples.length < 5) c.examples.push(`x=${hex(ex[i]!)} sin ${hex(es[i]!)} model ${hex(bitsOf(mufuSin(table, x)))} cos ${hex(ec[i]!)} model ${hex(bitsOf(mufuCos(table, x)))}`)
  // Does scaling by 1/2π round toward zero? Where round-to-nearest lands in another fixed-point
  // cell, the two hypotheses predict different outputs; count those and whether RN would be right.
  if (x < 2 * Math.PI) {
    const rnFixed = Math.floor(Math.fround(x * INV_2PI) * 2 ** 25) // product rounded to nearest
    mufuReduce(x, red)
    if (rnFixed !== red[0]! * 2 ** 23 + red[1]!) {
      rnCellCrossings++
      if (okS && okC) rnWouldDiffer++
    }
  }
}
for (let k = 0; k < cats.length; k++) {
  const c = perCat[k]!
  if (cats[k] === 'negative') console.log(`edge ${cats[k]}: sin(-x) = -sin(x) and cos(-x) = cos(x) bitwise for ${negSym}/${negN}`)
  else if (cats[k] === 'special') console.log(`edge ${cats[k]}: ${c.examples.join('; ')}`)
  else console.log(`edge ${cats[k]}: ${c.ok}/${c.n} bit-exact${c.examples.length ? ' e.g. ' + c.examples.join('; ') : ''}`)
}
console.log(`scaling: ${rnCellCrossings} edge inputs whose round-to-nearest product falls in another cell; the toward-zero model matched ${rnWouldDiffer} of them`)

if (dry) process.exit(failed.length || sweepBad ? 1 : 0)
if (failed.length || sweepBad) {
  console.error('not writing: the fit is not exact')
  process.exit(1)
}

// ---- The generated table.
const edgeOk = perCat.reduce((s, c) => s + c.ok, 0)
const edgeN = perCat.reduce((s, c) => s + c.n, 0)
const rows: string[] = []
for (let k = 0; k < 64; k += 4) {
  const cells: string[] = []
  for (let j = k; j < k + 4; j++) {
    cells.push(`0x${table[3 * j]!.toString(16).padStart(7, '0')}, 0x${table[3 * j + 1]!.toString(16).padStart(4, '0')}, 0x${table[3 * j + 2]!.toString(16).padStart(3, '0')},`)
  }
  rows.push('  ' + cells.join(' '))
}
const cudaVersion = (v: number) => `${Math.floor(v / 1000)}.${(v % 1000) / 10}`
const driver = index.cuda_driver && index.cuda_runtime ? `, CUDA ${cudaVersion(index.cuda_runtime)} runtime on a ${cudaVersion(index.cuda_driver)} driver` : ''
writeFileSync(
  TABLE_FILE,
  `/**
 * GENERATED by training/rng/fit_mufu.ts: do not edit by hand.
 *
 * Coefficients [c0, c1, c2] of the 64 intervals of the GPU's sin/cos quadratic (the evaluation
 * model and the units are in mufu-model.ts). Measured on an ${index.device} (compute capability
 * ${index.compute_capability}, ${index.sms} SMs${driver}) on ${index.measured_at.slice(0, 10)} by training/rng/measure_mufu.cu
 * and fitted exactly by training/rng/fit_mufu.ts: with this table the model reproduces all
 * ${2 * N} measured quadrant-0 outputs (sin.approx.f32 and cos.approx.f32 at every 23-bit
 * fraction) and ${edgeOk} of ${edgeN} further inputs (other quadrants, later turns, curand's angles,
 * tiny and large arguments) bit for bit.
 *
 * Recipe: on an sm_70+ GPU run training/rng/gpu_job.sh (it builds and runs measure_mufu.cu into
 * $OUT), then here: npx tsx training/rng/fit_mufu.ts <that folder>.
 */
// prettier-ignore
export const MUFU_SIN_TABLE = new Uint32Array([
${rows.join('\n')}
])
`,
)
console.log(`wrote ${TABLE_FILE}`)

// ---- A small fixture of measured values for test/rng-mufu.test.ts.
const points: [string, string, string][] = []
const take = (x: number, s: number, c: number) => points.push([hex(x), hex(s), hex(c)])
for (let i = 0; i < N; i += 16384) take(sx[i]!, ssin[i]!, scos[i]!)
for (let k = 1; k < 64; k++) for (const d of [-1, 0]) take(sx[k * OFFSET + d]!, ssin[k * OFFSET + d]!, scos[k * OFFSET + d]!)
const quota: Record<string, number> = { cell_end_q0: 128, quadrants: 256, turns_beyond_first: 64, curand_angles: 512, tiny: 1000, large: 64 }
const used: Record<string, number> = {}
for (let i = 0; i < E; i++) {
  const name = cats[ecat[i]!]!
  const x = floatFromBits(ex[i]!)
  if (!(name in quota) || !Number.isFinite(x) || x < 0) continue
  // Only inputs inside the model's domain that it reproduces; a category with misses is left out.
  if (perCat[ecat[i]!]!.ok !== perCat[ecat[i]!]!.n) continue
  if ((used[name] ?? 0) >= quota[name]!) continue
  // Spread the picks over the category.
  const every = Math.max(1, Math.floor(perCat[ecat[i]!]!.n / quota[name]!))
  if (name !== 'tiny' && i % every !== 0) continue
  used[name] = (used[name] ?? 0) + 1
  take(ex[i]!, es[i]!, ec[i]!)
}
mkdirSync(dirname(FIXTURE_FILE), { recursive: true })
writeFileSync(
  FIXTURE_FILE,
  JSON.stringify({
    source: 'training/rng/measure_mufu.cu (sin.approx.f32, cos.approx.f32), sampled by training/rng/fit_mufu.ts',
    device: index.device,
    compute_capability: index.compute_capability,
    measured_at: index.measured_at,
    columns: ['x', 'sin', 'cos'],
    points,
  }) + '\n',
)
console.log(`wrote ${FIXTURE_FILE} (${points.length} points: ${JSON.stringify(used)})`)
