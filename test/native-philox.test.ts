import t from 'tap'
import { getKernels, loadAddon, nativeInfo, referenceKernels, setNativeThreads } from '../src/native/index.js'
import { philox4x32_10 } from '../src/native/philox-math.js'

// Philox4x32-10 known-answer vectors from Random123's kat_vectors (counter[4], key[2] -> out[4]).
const KAT: [number[], number[], number[]][] = [
  [[0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
  [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]],
  [[0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]],
]

const addon = loadAddon()
const native = getKernels('cpu')

function sameBits(a: Float32Array, b: Float32Array): number {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length)
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length)
  let diff = 0
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) diff++
  return diff
}

// A small deterministic PRNG for picking test seeds/offsets (independent of the code under test).
function lcg(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s
  }
}

t.test('Philox4x32-10 core matches the Random123 known-answer vectors (TypeScript and native)', async (t) => {
  const out = new Uint32Array(4)
  for (const [c, k, want] of KAT) {
    philox4x32_10(c[0]!, c[1]!, c[2]!, c[3]!, k[0]!, k[1]!, out)
    t.same([...out], want, `TS ${c.map((x) => x.toString(16)).join(' ')}`)
    if (addon) {
      const o2 = new Uint32Array(4)
      addon.philox4x32(Uint32Array.from(c), Uint32Array.from(k), o2)
      t.same([...o2], want, `native ${c.map((x) => x.toString(16)).join(' ')}`)
    }
  }
})

t.test('normal values are Box-Muller of the Philox words (closed form, float64 vs float32 sequences)', async (t) => {
  const seed = 0x0123456789abcdefn
  const k0 = Number(seed & 0xffffffffn)
  const k1 = Number(seed >> 32n)
  const r = new Uint32Array(4)
  const got = new Float32Array(4)
  let worst = 0
  for (const b of [0, 1, 2, 7, 1000, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 5, 2 ** 45 + 17]) {
    philox4x32_10(b % 2 ** 32, Math.floor(b / 2 ** 32), 0, 0, k0, k1, r)
    referenceKernels.philoxNormal(seed, b * 4, got)
    for (let p = 0; p < 2; p++) {
      const u = ((r[2 * p]! >>> 8) + 1) * 2 ** -24
      const angle = (2 * Math.PI * (r[2 * p + 1]! >>> 8)) / 2 ** 24
      const radius = Math.sqrt(-2 * Math.log(u))
      const e = [radius * Math.cos(angle), radius * Math.sin(angle)]
      for (let l = 0; l < 2; l++) {
        // a few float32 ulps of the radius (the angle is exact, ln/sin/cos are float32 polynomials)
        const err = Math.abs(got[2 * p + l]! - e[l]!) / Math.max(radius, 1e-3)
        worst = Math.max(worst, err)
      }
    }
  }
  t.ok(worst < 8 * 2 ** -24, `max error ${worst} relative to the radius`)
})

t.test('native CPU is bit-identical to the TypeScript reference (seeds, offsets, lengths)', { skip: addon ? false : 'native addon not loaded' }, async (t) => {
  const rnd = lcg(7)
  const seeds = [0n, 1n, 42n, 0xffffffffn, 0x100000000n, (1n << 64n) - 1n, 0x243f6a8885a308d3n]
  for (let i = 0; i < 8; i++) seeds.push((BigInt(rnd()) << 32n) | BigInt(rnd()))
  const offsets = [0, 1, 2, 3, 5, 4097, 2 ** 32 * 4 - 2, 2 ** 32 * 4 + 1, 2 ** 53 - 1 - 70000, 2 ** 53 - 1 - 3]
  let cases = 0
  for (const seed of seeds) {
    for (const off of offsets) {
      for (const n of [1, 3, 70000]) {
        if (off + n > 2 ** 53 - 1) continue
        const a = new Float32Array(n)
        const b = new Float32Array(n)
        native.philoxNormal(seed, off, a)
        referenceKernels.philoxNormal(seed, off, b)
        const d = sameBits(a, b)
        if (d !== 0) t.fail(`seed ${seed} offset ${off} n ${n}: ${d} values differ`)
        cases++
      }
    }
  }
  // one long stream across thread chunks, from an odd offset
  const a = new Float32Array(1_000_001)
  const b = new Float32Array(1_000_001)
  native.philoxNormal(99n, 3, a)
  referenceKernels.philoxNormal(99n, 3, b)
  t.equal(sameBits(a, b), 0, `1M values at offset 3 identical (${cases} other cases checked)`)
  t.equal(a.filter((x) => !Number.isFinite(x)).length, 0, 'all finite')
})

t.test('native output is identical for 1, 2 and N threads, and sync vs async', { skip: addon ? false : 'native addon not loaded' }, async (t) => {
  const before = nativeInfo().threads
  const n = 2_000_003
  const runs: Float32Array[] = []
  for (const threads of [1, 2, 5, 16]) {
    setNativeThreads(threads)
    const out = new Float32Array(n)
    native.philoxNormal(2024n, 1, out)
    runs.push(out)
    const asyncOut = new Float32Array(n)
    await native.philoxNormalAsync(2024n, 1, asyncOut)
    runs.push(asyncOut)
  }
  setNativeThreads(before)
  for (let i = 1; i < runs.length; i++) t.equal(sameBits(runs[0]!, runs[i]!), 0, `run ${i} identical`)
})

t.test('value i depends only on (seed, offset + i)', async (t) => {
  const k = addon ? native : referenceKernels
  const full = new Float32Array(10_000)
  k.philoxNormal(77n, 1000, full)
  for (const [start, len] of [[0, 1], [1, 7], [3, 4096], [4099, 5901], [9999, 1]] as const) {
    const part = new Float32Array(len)
    k.philoxNormal(77n, 1000 + start, part)
    t.equal(sameBits(part, full.subarray(start, start + len)), 0, `slice [${start}, ${start + len})`)
  }
  const other = new Float32Array(10_000)
  k.philoxNormal(78n, 1000, other)
  t.ok(sameBits(other, full) > 9990, 'another seed gives another stream')
})

t.test('10^7 draws: mean, variance, kurtosis, tails and serial correlation within sound bounds', async (t) => {
  const k = addon ? native : referenceKernels
  const N = 10_000_000
  const x = new Float32Array(N)
  k.philoxNormal(31337n, 0, x)
  let s1 = 0
  let s2 = 0
  let s4 = 0
  let tail = 0
  for (let i = 0; i < N; i++) {
    const v = x[i]!
    s1 += v
    const v2 = v * v
    s2 += v2
    s4 += v2 * v2
    if (v > 3 || v < -3) tail++
  }
  const mean = s1 / N
  const variance = s2 / N - mean * mean
  const m4 = s4 / N
  // 6 standard errors: false-alarm rate ~2e-9 per check for a correct generator
  const z = 6
  t.ok(Math.abs(mean) < z * Math.sqrt(1 / N), `mean ${mean}`)
  t.ok(Math.abs(variance - 1) < z * Math.sqrt(2 / N), `variance ${variance}`)
  t.ok(Math.abs(m4 - 3) < z * Math.sqrt(96 / N), `fourth moment ${m4}`)
  const pTail = 0.0026997960632601866 // P(|X| > 3)
  t.ok(Math.abs(tail / N - pTail) < z * Math.sqrt((pTail * (1 - pTail)) / N), `P(|x|>3) = ${tail / N}`)
  // lag-1 (within a Box-Muller pair), lag-2 (across pairs), lag-4 (same lane of consecutive blocks)
  for (const lag of [1, 2, 3, 4]) {
    let c = 0
    for (let i = 0; i + lag < N; i++) c += (x[i]! - mean) * (x[i + lag]! - mean)
    const r = c / (N - lag) / variance
    t.ok(Math.abs(r) < z / Math.sqrt(N), `lag-${lag} correlation ${r}`)
  }
  // even and odd lanes separately (cos and sin halves of Box-Muller) have unit variance
  for (const lane of [0, 1]) {
    let s = 0
    let q = 0
    for (let i = lane; i < N; i += 2) {
      s += x[i]!
      q += x[i]! * x[i]!
    }
    const m = N / 2
    t.ok(Math.abs(q / m - (s / m) ** 2 - 1) < z * Math.sqrt(2 / m), `lane parity ${lane} variance ${q / m - (s / m) ** 2}`)
  }
})
