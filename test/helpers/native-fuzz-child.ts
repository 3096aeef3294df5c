/**
 * Runs in a CHILD process (started by test/native-fuzz.test.ts or scripts/sanitize.sh): calls the
 * native addon's functions with hostile arguments. A crash or abort kills only this process; the
 * parent reports it as a test failure. Usage:
 *   node --expose-gc --import tsx test/helpers/native-fuzz-child.ts <scenario> <seed> <calls>
 * scenarios: random (any function, any arguments), template (valid calls with one or two arguments
 * spoiled), detach (buffers detached/collected while an async call runs), worker (worker threads
 * terminated mid-call). Prints one JSON summary line last.
 */
import { Worker } from 'node:worker_threads'
import { fileURLToPath } from 'node:url'
import { loadAddon } from '../../src/native/loader.js'
import { int, pick, rng, type Rng } from './fuzz.js'

type Fn = (...args: unknown[]) => unknown
const addon = loadAddon() as unknown as Record<string, unknown> | null
const [scenario = 'random', seedText = '1', callsText = '3000'] = process.argv.slice(2)
const r = rng(Number(seedText))
const calls = Number(callsText)

function detached(n: number): Float32Array {
  const a = new Float32Array(n)
  structuredClone(a.buffer, { transfer: [a.buffer] })
  return a
}
const shared = (n: number): Float32Array => new Float32Array(new SharedArrayBuffer(n * 4))
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined)

const NUMBERS = [0, 1, -1, 3, 4, 1.5, -0, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 - 1, 2 ** 64, 1e308, -1e308, 5e-324, 255, 1001, -(2 ** 31)]
/** Any kind of JavaScript value, biased towards the kinds the addon reads. */
function anyValue(r: Rng): unknown {
  switch (int(r, 12)) {
    case 0:
      return pick(r, NUMBERS)
    case 1:
      return pick(r, [0n, 1n, -1n, 42n, 1n << 63n, (1n << 64n) - 1n, 1n << 64n, 1n << 70n, -(1n << 70n)])
    case 2:
      return pick(r, [undefined, null, true, false, 'cpu', 'cuda', 'copy', 'philox', '', 'x'.repeat(1000)])
    case 3:
      return pick(r, [{}, [], [1, 2, 3], () => 1, Symbol('s'), new Date(0), new ArrayBuffer(16), new Proxy({}, { get: () => { throw new Error('trap') } })])
    case 4:
    case 5:
      return new Float32Array(pick(r, [0, 1, 3, 4, 7, 8, 16, 17, 64, 1000, 2000]))
    case 6:
      return detached(pick(r, [0, 4, 64]))
    case 7:
      return shared(pick(r, [0, 4, 17, 2000]))
    case 8:
      return new Float32Array(64).subarray(pick(r, [0, 1, 3]), pick(r, [4, 17, 64]))
    case 9:
      return pick(r, [new Float64Array(8), new Uint32Array(4), new Uint32Array(2), new Int32Array(8), new Int32Array(1), new Uint8Array(32), new DataView(new ArrayBuffer(8)), new BigInt64Array(2)])
    case 10:
      return stepParams(r, true)
    default:
      return glParams(r, true)
  }
}

function stepParams(r: Rng, spoil: boolean): Record<string, unknown> {
  const p: Record<string, unknown> = { prediction: 0, a: 0.8, b: 0.6, clip: null, recomputeEps: false, coefX0: 0.9, coefEps: 0.3, coefSample: 0, coefNoise: 0.1, guidanceScale: null }
  if (spoil) {
    const keys = Object.keys(p)
    for (let i = 0; i < 1 + int(r, 3); i++) {
      const k = pick(r, keys)
      if (r() < 0.2) delete p[k]
      else p[k] = r() < 0.5 ? pick(r, NUMBERS) : anyValueShallow(r)
    }
  }
  return p
}

function glParams(r: Rng, spoil: boolean): Record<string, unknown> {
  const p: Record<string, unknown> = { nFft: 16, hop: 4, win: 16, iterations: 2, momentum: 0.99, power: 1, randInit: false, seed: 0, length: 16, frames: 5 }
  if (spoil) {
    const keys = Object.keys(p)
    for (let i = 0; i < 1 + int(r, 3); i++) {
      const k = pick(r, keys)
      if (r() < 0.2) delete p[k]
      // work-size fields get invalid values, never merely large valid ones (a huge valid request is slow, not a bug)
      else p[k] = pick(r, [NaN, -1, 0, 1.5, Infinity, -Infinity, 2 ** 53, 2 ** 31, 3, 17, 'x', null, undefined, true, {}])
    }
  }
  return p
}

function anyValueShallow(r: Rng): unknown {
  return pick(r, [undefined, null, true, 'x', {}, [], 0n, 1, NaN, -1, Symbol('q')])
}

/** A valid argument list for each known function; `undefined` for functions this harness does not know. */
function template(name: string, r: Rng): unknown[] | undefined {
  const f = (n: number): Float32Array => new Float32Array(n).map((_, i) => Math.sin(i))
  const n = pick(r, [4, 8, 16, 1000])
  switch (name.replace(/^cuda/, '').replace(/Async$/, '').replace(/^./, (c) => c.toLowerCase())) {
    case 'philoxNormal':
      return [BigInt(int(r, 1000)), int(r, 100), f(n)]
    case 'philox4x32':
      return [new Uint32Array(4), new Uint32Array(2), new Uint32Array(4)]
    case 'guidanceCombine':
      return [f(n), f(n), 7.5, 0.7, pick(r, [1, 2, 4]), f(n)]
    case 'fusedStep':
      return [f(n), f(n), f(n), stepParams(r, false), f(n), f(n)]
    case 'copyF32':
      return [f(n), f(n)]
    case 'audioGriffinLim':
      return [f(9 * 5), f(16), glParams(r, false), 'cpu', r() < 0.5, new Int32Array(1)]
    case 'bench':
      return [pick(r, ['copy', 'philox', 'step']), 1024, 1]
    case 'setThreads':
      return [1 + int(r, 4)]
    default:
      return undefined
  }
}

/** Spoils one argument: a different kind, a nearby length, an offset view, a detached or shared buffer. */
function spoil(args: unknown[], r: Rng): unknown[] {
  const out = args.slice()
  const roll = r()
  if (roll < 0.1) return out.slice(0, int(r, out.length)) // too few arguments
  if (roll < 0.15) return [...out, anyValue(r)] // one too many
  const i = int(r, out.length)
  const a = out[i]
  if (a instanceof Float32Array && r() < 0.7) {
    const n = a.length
    out[i] = pick(r, [
      new Float32Array(Math.max(0, n - 1)),
      new Float32Array(n + 1),
      new Float32Array(n + 2).subarray(1, n + 1),
      new Float32Array(n * 2).subarray(n),
      detached(n),
      shared(n),
      new Float32Array(0),
      new Float64Array(n),
      Array.from(a),
    ])
  } else if (typeof a === 'object' && a !== null && !ArrayBuffer.isView(a) && r() < 0.7) {
    out[i] = 'nFft' in a ? glParams(r, true) : stepParams(r, true)
  } else out[i] = anyValue(r)
  return out
}

interface Summary {
  scenario: string
  functions: string[]
  calls: number
  threw: number
  nonError: string[]
  rejected: number
  resolved: number
}

async function fuzzCalls(mode: 'random' | 'template', names: string[], a: Record<string, unknown>): Promise<Summary> {
  const s: Summary = { scenario: mode, functions: names, calls: 0, threw: 0, nonError: [], rejected: 0, resolved: 0 }
  const threads = (a.getThreads as Fn)()
  const pending: Promise<void>[] = []
  for (let i = 0; i < calls; i++) {
    const name = names[i % names.length]!
    let args: unknown[]
    if (mode === 'random') args = Array.from({ length: int(r, 8) }, () => anyValue(r))
    else {
      const t = template(name, r)
      args = t ? (r() < 0.9 ? spoil(t, r) : t) : Array.from({ length: int(r, 8) }, () => anyValue(r))
    }
    s.calls++
    try {
      const res = (a[name] as Fn)(...args)
      if (res instanceof Promise) {
        pending.push(
          res.then(
            () => void s.resolved++,
            (e: unknown) => {
              s.rejected++
              if (!(e instanceof Error)) s.nonError.push(`${name} rejected with ${String(e)}`)
            },
          ),
        )
      }
    } catch (e) {
      s.threw++
      if (!(e instanceof Error)) s.nonError.push(`${name} threw ${String(e)}`)
    }
    if (i % 97 === 0) gc()
    if (pending.length > 64) await Promise.all(pending.splice(0))
  }
  await Promise.all(pending)
  ;(a.setThreads as Fn)(threads)
  return s
}

/** Detaches (and lets the GC collect) buffers while async calls are still using them. */
async function detachDuringAsync(a: Record<string, unknown>): Promise<Summary> {
  const s: Summary = { scenario: 'detach', functions: [], calls: 0, threw: 0, nonError: [], rejected: 0, resolved: 0 }
  const big = 1 << 18
  for (let i = 0; i < Math.max(1, Math.floor(calls / 20)); i++) {
    const out = new Float32Array(big)
    const x = new Float32Array(big).fill(0.5)
    const ops: [string, () => unknown, Float32Array[]][] = [
      ['philoxNormalAsync', () => (a.philoxNormalAsync as Fn)(BigInt(i), 0, out), [out]],
      ['guidanceCombineAsync', () => (a.guidanceCombineAsync as Fn)(x, x.slice(), 3, 0.5, 2, out), [x, out]],
      ['fusedStepAsync', () => (a.fusedStepAsync as Fn)(x, x.slice(), x.slice(), stepParams(r, false), out, null), [x, out]],
    ]
    const [name, call, victims] = pick(r, ops)
    s.functions.push(name)
    s.calls++
    let p: unknown
    try {
      p = call()
    } catch (e) {
      s.threw++
      if (!(e instanceof Error)) s.nonError.push(`${name} threw ${String(e)}`)
      continue
    }
    // the caller breaks the contract: transfers the buffer away and drops the new owner
    for (const v of victims) if (r() < 0.7) structuredClone(v.buffer, { transfer: [v.buffer] })
    gc()
    gc()
    // allocate over the freed memory so that a write into it would corrupt something visible to ASan
    const filler = Array.from({ length: 8 }, () => new Float32Array(big))
    try {
      await p
      s.resolved++
    } catch (e) {
      s.rejected++
      if (!(e instanceof Error)) s.nonError.push(`${name} rejected with ${String(e)}`)
    }
    void filler
  }
  return s
}

/** Worker threads load the addon, start async work, and are terminated while it runs. */
async function terminateWorkers(): Promise<Summary> {
  const s: Summary = { scenario: 'worker', functions: ['philoxNormalAsync', 'fusedStepAsync', 'audioGriffinLim'], calls: 0, threw: 0, nonError: [], rejected: 0, resolved: 0 }
  // the worker loads the same addon file directly (plain CommonJS: no TypeScript loader in eval workers)
  const file = process.env.DIFFUSEKIT_ADDON ?? fileURLToPath(new URL('../../build/Release/diffusekit.node', import.meta.url))
  const code = `
    const { parentPort } = require('node:worker_threads')
    const a = require(${JSON.stringify(file)})
    ;(async () => {
    const n = 1 << 20
    const out = new Float32Array(n)
    const ps = []
    for (let i = 0; i < 4; i++) ps.push(a.philoxNormalAsync(BigInt(i), 0, out))
    const x = new Float32Array(n).fill(0.25)
    ps.push(a.fusedStepAsync(x, x, x, { prediction: 0, a: 0.8, b: 0.6, clip: null, recomputeEps: false, coefX0: 0.9, coefEps: 0.3, coefSample: 0, coefNoise: 0.1, guidanceScale: null }, out, null))
    if (typeof a.audioGriffinLim === 'function') {
      ps.push(a.audioGriffinLim(new Float32Array(257 * 200).fill(1), new Float32Array(128 * 199), { nFft: 512, hop: 128, win: 512, iterations: 64, momentum: 0.99, power: 1, randInit: true, seed: 1, length: 128 * 199, frames: 200 }, 'cpu', true, new Int32Array(1)))
    }
    parentPort.postMessage('started')
    await Promise.all(ps)
    parentPort.postMessage('finished')
    })()`
  const rounds = Math.max(2, Math.floor(calls / 200))
  for (let i = 0; i < rounds; i++) {
    const w = new Worker(code, { eval: true })
    s.calls++
    await new Promise<void>((res) => {
      w.on('message', (m) => {
        if (m === 'started') {
          // terminate at once, or a moment later while the native threads are mid-kernel
          setTimeout(() => void w.terminate(), int(r, 3) === 0 ? 0 : int(r, 20))
        } else if (m === 'finished') s.resolved++
      })
      w.on('error', (e) => {
        s.rejected++
        if (s.rejected === 1) console.error(`worker error: ${String(e)}`)
        if (!(e instanceof Error)) s.nonError.push(`worker error ${String(e)}`)
      })
      w.on('exit', () => res())
    })
    gc()
  }
  return s
}

async function main(): Promise<void> {
  if (!addon) {
    console.log(JSON.stringify({ scenario, skipped: 'native addon not loaded' }))
    return
  }
  // every exported function, as listed by the loaded addon object itself (new kernels are covered automatically)
  const names = Object.keys(addon)
    .filter((k) => typeof addon[k] === 'function')
    .sort()
  let s: Summary
  if (scenario === 'random' || scenario === 'template') s = await fuzzCalls(scenario, names, addon)
  else if (scenario === 'detach') s = await detachDuringAsync(addon)
  else if (scenario === 'worker') s = await terminateWorkers()
  else throw new Error(`unknown scenario ${scenario}`)
  console.log(JSON.stringify(s))
}

await main()
