import t from 'tap'
import { spawnSync } from 'node:child_process'
import { writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DiffuseError } from '../src/errors.js'
import { getKernels, loadAddon, referenceKernels, setNativeThreads } from '../src/native/index.js'
import type { FusedStepParams, Kernels } from '../src/native/index.js'

const addon = loadAddon()
const impls: [string, Kernels][] = [['typescript', referenceKernels]]
if (addon) impls.push(['native cpu', getKernels('cpu')])

const loaderUrl = new URL('../src/native/loader.ts', import.meta.url).href

function detached(n: number): Float32Array {
  const a = new Float32Array(n)
  structuredClone(a.buffer, { transfer: [a.buffer] })
  return a
}

function shared(n: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(n * 4))
}

const f = (n: number): Float32Array => new Float32Array(n)
const P: FusedStepParams = { predictionType: 'epsilon', alphaProdSqrt: 0.8, betaProdSqrt: 0.6, coefX0: 0.9, coefEps: 0.3, coefSample: 0, coefNoise: 0.1 }

for (const [name, k] of impls) {
  t.test(`${name}: bad arguments give DiffuseError INVALID_ARGUMENT (sync throws, async rejects)`, async (t) => {
    const bad: [string, () => unknown][] = [
      ['seed as number', () => k.philoxNormal(1 as unknown as bigint, 0, f(4))],
      ['negative seed', () => k.philoxNormal(-1n, 0, f(4))],
      ['seed 2^64', () => k.philoxNormal(1n << 64n, 0, f(4))],
      ['offset -1', () => k.philoxNormal(1n, -1, f(4))],
      ['offset 1.5', () => k.philoxNormal(1n, 1.5, f(4))],
      ['offset NaN', () => k.philoxNormal(1n, NaN, f(4))],
      ['offset Infinity', () => k.philoxNormal(1n, Infinity, f(4))],
      ['offset 2^53', () => k.philoxNormal(1n, 2 ** 53, f(4))],
      ['offset + length past 2^53', () => k.philoxNormal(1n, 2 ** 53 - 3, f(4))],
      ['out Float64Array', () => k.philoxNormal(1n, 0, new Float64Array(4) as unknown as Float32Array)],
      ['out plain array', () => k.philoxNormal(1n, 0, [0, 0] as unknown as Float32Array)],
      ['cond shorter', () => k.guidanceCombine(f(8), f(7), 2, 0, 1, f(8))],
      ['out shorter than uncond', () => k.guidanceCombine(f(8), f(8), 2, 0, 1, f(4))],
      ['detached cond', () => k.guidanceCombine(f(8), detached(8), 2, 0, 1, f(8))],
      ['batch 0', () => k.guidanceCombine(f(8), f(8), 2, 0, 0, f(8))],
      ['batch not dividing', () => k.guidanceCombine(f(8), f(8), 2, 0, 3, f(8))],
      ['scale NaN', () => k.guidanceCombine(f(8), f(8), NaN, 0, 1, f(8))],
      ['rescale negative', () => k.guidanceCombine(f(8), f(8), 2, -0.5, 1, f(8))],
      ['model output short', () => k.fusedStep(f(8), f(7), f(8), P, f(8))],
      ['guided model output not 2n', () => k.fusedStep(f(8), f(8), f(8), { ...P, guidanceScale: 3 }, f(8))],
      ['noise missing with coefNoise', () => k.fusedStep(f(8), f(8), null, P, f(8))],
      ['noise short', () => k.fusedStep(f(8), f(8), f(3), P, f(8))],
      ['out short', () => k.fusedStep(f(8), f(8), f(8), P, f(7))],
      ['x0Out short', () => k.fusedStep(f(8), f(8), f(8), P, f(8), f(2))],
      ['unknown prediction type', () => k.fusedStep(f(8), f(8), f(8), { ...P, predictionType: 'x0' as 'sample' }, f(8))],
      ['params null', () => k.fusedStep(f(8), f(8), f(8), null as unknown as FusedStepParams, f(8))],
      ['coefficient Infinity', () => k.fusedStep(f(8), f(8), f(8), { ...P, coefX0: Infinity }, f(8))],
      ['alpha NaN', () => k.fusedStep(f(8), f(8), f(8), { ...P, alphaProdSqrt: NaN }, f(8))],
      ['clip 0', () => k.fusedStep(f(8), f(8), f(8), { ...P, clipSample: 0 }, f(8))],
      ['recomputeEps string', () => k.fusedStep(f(8), f(8), f(8), { ...P, recomputeEps: 'yes' as unknown as boolean }, f(8))],
      ['x Int32Array', () => k.fusedStep(new Int32Array(8) as unknown as Float32Array, f(8), f(8), P, f(8))],
    ]
    for (const [label, call] of bad) {
      t.throws(call, { name: 'DiffuseError', code: 'INVALID_ARGUMENT' }, label)
    }
    await t.rejects(k.philoxNormalAsync(1n, -1, f(4)), { code: 'INVALID_ARGUMENT' }, 'async philox rejects')
    await t.rejects(k.guidanceCombineAsync(f(8), f(7), 2, 0, 1, f(8)), { code: 'INVALID_ARGUMENT' }, 'async guidance rejects')
    await t.rejects(k.fusedStepAsync(f(8), f(7), f(8), P, f(8)), { code: 'INVALID_ARGUMENT' }, 'async step rejects')
    // messages say what was expected and what was received
    t.throws(() => k.guidanceCombine(f(8), f(8), 2, 0, 1, f(4)), /out to have length 8 .* received length 4/)
  })

  t.test(`${name}: detached and SharedArrayBuffer-backed arrays are handled`, async (t) => {
    const empty = detached(16)
    k.philoxNormal(5n, 0, empty) // length 0 after detaching: nothing to write
    t.equal(empty.length, 0)
    const s = shared(1001)
    const plain = f(1001)
    k.philoxNormal(5n, 3, s)
    k.philoxNormal(5n, 3, plain)
    t.same(Array.from(s.subarray(0, 8)), Array.from(plain.subarray(0, 8)), 'SAB-backed output equals a plain array')
    const out = shared(1001)
    k.fusedStep(s, plain, plain, P, out)
    const out2 = f(1001)
    k.fusedStep(plain, plain, plain, P, out2)
    t.same(Array.from(out.subarray(990)), Array.from(out2.subarray(990)), 'SAB-backed inputs and output')
    // a view with a byte offset into a bigger buffer writes only its own window
    const big = new Float32Array(64).fill(7)
    k.philoxNormal(5n, 0, big.subarray(10, 20))
    t.equal(big[9], 7)
    t.equal(big[20], 7)
    t.not(big[10], 7)
  })
}

t.test('device selection and thread errors', async (t) => {
  t.throws(() => getKernels('tpu' as 'cpu'), { code: 'INVALID_ARGUMENT' })
  t.throws(() => setNativeThreads(0), { code: 'INVALID_ARGUMENT' })
  t.throws(() => setNativeThreads(2.5), { code: 'INVALID_ARGUMENT' })
  t.equal(getKernels('typescript'), referenceKernels)
  if (addon && !addon.info().cudaAvailable) t.throws(() => getKernels('cuda'), { code: 'CUDA_UNAVAILABLE' })
})

// ---- the raw addon: random argument kinds for every exported function, only JS exceptions ----

function lcg(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 4294967296
  }
}

t.test('fuzz: every addon function with random arguments throws JS errors, never crashes', { skip: addon ? false : 'native addon not loaded' }, async (t) => {
  const a = addon!
  const rnd = lcg(20251126)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!
  const numbers = [0, 1, -1, 3, 4, 1.5, -0, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 - 1, 2 ** 64, 1e308, -1e308, 5e-324, 255, 1001]
  const value = (): unknown => {
    switch (Math.floor(rnd() * 12)) {
      case 0:
        return pick(numbers)
      case 1:
        return pick([0n, 1n, -1n, 42n, 1n << 63n, (1n << 64n) - 1n, 1n << 64n, 1n << 70n, -(1n << 70n)])
      case 2:
        return pick([undefined, null, true, false, 'copy', 'philox', 'guidedStep', '', 'x'.repeat(1000)])
      case 3:
        return pick([{}, [], [1, 2, 3], () => 1, Symbol('s'), new Date(0), new ArrayBuffer(16)])
      case 4:
      case 5:
        return new Float32Array(pick([0, 1, 3, 4, 7, 8, 16, 17, 1000, 2000, 70_000]))
      case 6:
        return detached(pick([0, 4, 64]))
      case 7:
        return shared(pick([0, 4, 17, 2000]))
      case 8:
        return new Float32Array(64).subarray(pick([0, 1, 3]), pick([4, 17, 64]))
      case 9:
        return pick([new Float64Array(8), new Uint32Array(4), new Uint32Array(2), new Int32Array(8), new Uint8Array(32), new DataView(new ArrayBuffer(8))])
      default:
        return {
          prediction: pick([0, 1, 2, 3, -1, NaN, '0', undefined]),
          a: pick(numbers),
          b: pick(numbers),
          clip: pick([null, undefined, 1, 0, -1, NaN, Infinity, 'x']),
          recomputeEps: pick([true, false, 1, undefined]),
          coefX0: pick(numbers),
          coefEps: pick(numbers),
          coefSample: pick(numbers),
          coefNoise: pick([0, 0, 1, NaN]),
          guidanceScale: pick([null, undefined, 7.5, NaN, 'w']),
        }
    }
  }
  const names = Object.keys(a).filter((k) => typeof a[k] === 'function' && k !== 'setThreads')
  const threadsBefore = a.getThreads()
  let calls = 0
  let threw = 0
  const pending: Promise<unknown>[] = []
  for (let iter = 0; iter < 4000; iter++) {
    const fname = names[iter % names.length]!
    const argc = Math.floor(rnd() * 8)
    const args = Array.from({ length: argc }, value)
    calls++
    try {
      const r = (a[fname] as (...xs: unknown[]) => unknown)(...args)
      if (r instanceof Promise) pending.push(r.catch((e: unknown) => t.ok(e instanceof Error, `${fname} rejected with an Error`)))
    } catch (e) {
      threw++
      if (!(e instanceof Error)) t.fail(`${fname} threw a non-Error ${String(e)}`)
    }
  }
  await Promise.all(pending)
  t.equal(a.getThreads(), threadsBefore)
  t.ok(threw > calls / 2, `${calls} calls, ${threw} threw JS errors, the process is alive`)
})

t.test('setThreads with random values: clamps or throws, never crashes', { skip: addon ? false : 'native addon not loaded' }, async (t) => {
  const a = addon!
  const before = a.getThreads()
  for (const v of [0, -1, 1.5, NaN, Infinity, 2 ** 40, '4', 3n, null, 257]) {
    t.throws(() => a.setThreads(v as number), Error, `setThreads(${String(v)})`)
  }
  t.equal(a.setThreads(3), 3)
  a.setThreads(before)
  t.throws(() => setNativeThreads(300), DiffuseError)
})

// ---- the loader's fallback, in child processes (module state is per process) ----

function runChild(code: string, env: Record<string, string>): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    cwd: fileURLToPath(new URL('..', import.meta.url)),
  })
  return { stdout: r.stdout, stderr: r.stderr, status: r.status }
}

t.test('an addon that cannot load: one actionable warning, TypeScript kernels, CUDA_UNAVAILABLE for cuda', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dk-addon-'))
  const junk = join(dir, 'diffusekit.node')
  writeFileSync(junk, 'not an ELF file')
  const code = `
    const m = await import(${JSON.stringify(loaderUrl)})
    const a = m.getKernels('cpu'), b = m.getKernels('auto')
    let cuda = 'none'
    try { m.getKernels('cuda') } catch (e) { cuda = e.code }
    console.log(JSON.stringify({ a: a.device, b: b.device, cuda, info: m.nativeInfo() }))`
  const r = runChild(code, { DIFFUSEKIT_ADDON: junk, DIFFUSEKIT_KERNELS: '' })
  t.equal(r.status, 0, r.stderr)
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { a: string; b: string; cuda: string; info: { loaded: boolean; error: string } }
  t.equal(out.a, 'typescript')
  t.equal(out.b, 'typescript')
  t.equal(out.cuda, 'CUDA_UNAVAILABLE')
  t.equal(out.info.loaded, false)
  t.match(out.info.error, junk, 'names the file it tried')
  t.match(out.info.error, /npm run build:native/, 'says how to fix it')
  t.equal(r.stderr.split('using the TypeScript kernels').length - 1, 1, 'exactly one warning for several calls')

  const forced = runChild(code, { DIFFUSEKIT_KERNELS: 'typescript' })
  t.equal(forced.status, 0, forced.stderr)
  const fo = JSON.parse(forced.stdout.trim().split('\n').pop()!) as { a: string; cuda: string }
  t.equal(fo.a, 'typescript')
  t.equal(fo.cuda, 'CUDA_UNAVAILABLE')
  t.notMatch(forced.stderr, /using the TypeScript kernels/, 'no warning when forced')
})

t.test('async kernels work on private copies: a buffer transferred away mid-call is never written', { skip: addon ? false : 'native addon not loaded' }, async (t) => {
  const k = getKernels('cpu')
  const n = 1 << 20 // above ASYNC_THRESHOLD: a real AsyncWorker
  const out = new Float32Array(n)
  const p = k.philoxNormalAsync(3n, 0, out)
  // the caller breaks the contract: moves the memory to a new owner while the kernel runs
  const moved = new Float32Array(structuredClone(out.buffer, { transfer: [out.buffer] }))
  await p
  t.equal(out.length, 0, 'the original view is detached')
  t.equal(moved.findIndex((v) => v !== 0), -1, 'the new owner of the memory sees none of the kernel writes')
  // inputs are copied at call time: changing them after the call does not change the result
  const x = new Float32Array(n).fill(0.5)
  const m = new Float32Array(n).fill(0.25)
  const expected = new Float32Array(n)
  const P2: FusedStepParams = { ...P, coefNoise: 0 }
  k.fusedStep(x, m, null, P2, expected)
  const got = new Float32Array(n)
  const q = k.fusedStepAsync(x, m, null, P2, got)
  x.fill(9)
  await q
  t.equal(got[n - 1], expected[n - 1], 'result from the inputs as they were at call time')
  // SharedArrayBuffer memory cannot be detached and is used in place
  const s = shared(n)
  await k.philoxNormalAsync(3n, 0, s)
  const ref = new Float32Array(n)
  k.philoxNormal(3n, 0, ref)
  t.equal(s[n - 1], ref[n - 1], 'SAB-backed output written in place')
})
