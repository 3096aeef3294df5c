/**
 * The long-running fuzzer: `npx tsx scripts/fuzz.ts --target wav|png|json|scheduler|model-folder|onnx|tokenizer --cases N`
 *
 * A parent process runs the cases in a child process and watches it, so that a native crash, an
 * out-of-memory abort or a hang (one case running longer than --timeout-ms, default 5000) is caught
 * and recorded instead of ending the run. The child is coverage-guided: V8's precise block coverage
 * (node:inspector, Profiler.takePreciseCoverage) of the target's source files is taken after each case,
 * and an input that reaches a new block (or a block a new power-of-two number of times) joins the
 * corpus that later cases are mutated from. ONNX Runtime's own C++ is not visible to V8 coverage, so
 * for the onnx target the guidance only covers the SDK's side and the search is mostly generative.
 *
 * Every failure — a non-DiffuseError exception, a DiffuseError with a code outside the refusal set,
 * a result that fails the target's checks ("silent garbage"), a crash, a hang — is written to
 * test/fixtures/fuzz/<target>/<id>.json, which test/fuzz-regressions.test.ts replays. A summary line
 * per run is appended to test/fixtures/fuzz/runs.jsonl (cases, seconds, refusal codes, corpus size).
 *
 * Options: --cases N (default 10000), --seed S, --timeout-ms T, --max-seconds S, --corpus DIR
 * (default /tmp/diffusekit-fuzz/<target>; kept between runs so a later run starts where one ended).
 */
import { fork, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, appendFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { Session } from 'node:inspector'
import { fileURLToPath } from 'node:url'
import { classify, decodeFiles, encodeFiles, inputId, pick, rng, type Files, type RecordedFailure } from '../test/helpers/fuzz.js'
import { repoRoot, targets, type FuzzTarget } from '../test/helpers/fuzz-targets.js'

interface Args {
  target: string
  cases: number
  seed: number
  timeoutMs: number
  maxSeconds: number
  corpus: string
  child: boolean
  work: string
}

// the PLY parser is a later addition: registered when its module is present
if (existsSync(join(repoRoot, 'modalities/pointcloud/ply.ts'))) {
  const { registerPly } = await import('../test/helpers/fuzz-ply.js')
  await registerPly(targets)
}

function parseArgs(argv: string[]): Args {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`)
    return i >= 0 ? argv[i + 1] : undefined
  }
  const target = get('target') ?? ''
  if (!targets[target]) {
    console.error(`usage: npx tsx scripts/fuzz.ts --target ${Object.keys(targets).join('|')} [--cases N] [--seed S] [--timeout-ms T] [--max-seconds S]`)
    process.exit(2)
  }
  return {
    target,
    cases: Number(get('cases') ?? 10000),
    seed: Number(get('seed') ?? Date.now() % 2 ** 31),
    timeoutMs: Number(get('timeout-ms') ?? 5000),
    maxSeconds: Number(get('max-seconds') ?? Infinity),
    corpus: get('corpus') ?? join('/tmp/diffusekit-fuzz', target, 'corpus'),
    child: argv.includes('--child'),
    work: get('work') ?? join(scratch, target, `work-${process.pid}`),
  }
}

/** Scratch space on tmpfs when there is one: each case writes its input there before it runs (for the watchdog). */
const scratch = existsSync('/dev/shm') ? '/dev/shm/diffusekit-fuzz' : '/tmp/diffusekit-fuzz'

const fixturesDir = (target: string): string => join(repoRoot, 'test/fixtures/fuzz', target)

function recordFailure(f: RecordedFailure): string {
  const dir = fixturesDir(f.target)
  mkdirSync(dir, { recursive: true })
  const id = inputId(decodeFiles(f.files))
  const path = join(dir, `${f.why}-${id}.json`)
  if (!existsSync(path)) writeFileSync(path, JSON.stringify(f, null, 1) + '\n')
  return path
}

// ------------------------------------------------------------------ child: the fuzzing loop

interface Progress {
  type: 'progress' | 'done'
  cases: number
  ok: number
  refused: Record<string, number>
  failures: number
  corpus: number
  features: number
}

/** V8 block coverage of the target's files since the last call, as a set of feature keys. */
function coverageProbe(target: FuzzTarget): () => string[] {
  const session = new Session()
  session.connect()
  const post = (method: string, params?: object): unknown => {
    let result: unknown
    let error: unknown
    session.post(method, params ?? {}, (err, res) => {
      error = err
      result = res
    })
    if (error) throw error
    return result
  }
  post('Profiler.enable')
  post('Profiler.startPreciseCoverage', { callCount: true, detailed: true })
  return () => {
    const res = post('Profiler.takePreciseCoverage') as {
      result: { url: string; functions: { ranges: { startOffset: number; endOffset: number; count: number }[] }[] }[]
    }
    const keys: string[] = []
    for (const script of res.result) {
      if (!target.coverage.some((c) => script.url.includes(c))) continue
      for (const fn of script.functions) {
        for (const r of fn.ranges) {
          if (r.count > 0) keys.push(`${script.url}:${r.startOffset}:${r.endOffset}:${Math.min(8, Math.floor(Math.log2(r.count)))}`)
        }
      }
    }
    return keys
  }
}

async function childMain(a: Args): Promise<void> {
  const target = targets[a.target]!
  const r = rng(a.seed)
  mkdirSync(a.corpus, { recursive: true })
  mkdirSync(a.work, { recursive: true })
  const currentPath = join(a.work, 'current.json')
  const corpus: Files[] = [...target.seeds()]
  for (const f of readdirSync(a.corpus)) {
    try {
      corpus.push(decodeFiles(JSON.parse(readFileSync(join(a.corpus, f), 'utf8')) as Record<string, string>))
    } catch {
      // a half-written corpus file from a killed run: skip it
    }
  }
  const probe = coverageProbe(target)
  const nSeeds = target.seeds().length
  const seen = new Set<string>()
  const refused: Record<string, number> = {}
  const failureSigs = new Map<string, number>()
  let ok = 0
  let failures = 0
  const started = Date.now()
  const send = (type: Progress['type'], cases: number): void => {
    process.send?.({ type, cases, ok, refused, failures, corpus: corpus.length, features: seen.size } satisfies Progress)
  }
  // seeds run first, unmutated (their coverage is the baseline)
  let i = 0
  for (; i < a.cases; i++) {
    if ((Date.now() - started) / 1000 > a.maxSeconds) break
    let input: Files
    try {
      input = i < corpus.length && i < nSeeds ? corpus[i]! : target.mutate(pick(r, corpus), r, corpus)
    } catch (e) {
      // a bug in a mutator is the fuzzer's, not the SDK's: say so and move on
      console.error(`[fuzz ${a.target}] mutator error: ${(e as Error).message}`)
      continue
    }
    // the watchdog parent reads this file when the case crashes or hangs
    writeFileSync(currentPath, JSON.stringify(encodeFiles(input)))
    let outcome
    try {
      await target.run(input, join(a.work, 'tmp'))
      outcome = { kind: 'ok' } as const
    } catch (e) {
      outcome = classify(e)
    }
    if (outcome.kind === 'ok') ok++
    else if (outcome.kind === 'refused') refused[outcome.code] = (refused[outcome.code] ?? 0) + 1
    else {
      failures++
      const sig = `${outcome.why}:${outcome.message.split('\n')[0]!.replace(/\d+/g, 'N').slice(0, 120)}`
      const n = failureSigs.get(sig) ?? 0
      failureSigs.set(sig, n + 1)
      if (n < 3) {
        const path = recordFailure({ target: a.target, why: outcome.why, message: outcome.message, files: encodeFiles(input), found: new Date().toISOString() })
        console.error(`[fuzz ${a.target}] FAILURE (${outcome.why}) ${outcome.message.split('\n')[0]} -> ${path}`)
      }
    }
    const keys = probe()
    let fresh = false
    for (const k of keys) {
      if (!seen.has(k)) {
        seen.add(k)
        fresh = true
      }
    }
    if (fresh && i >= nSeeds) {
      const size = Object.values(input).reduce((s, b) => s + b.length, 0)
      if (size <= 1 << 20 && corpus.length < 5000) {
        corpus.push(input)
        writeFileSync(join(a.corpus, `${inputId(input)}.json`), JSON.stringify(encodeFiles(input)))
      }
    }
    if (i % 500 === 0) send('progress', i + 1)
  }
  send('done', i)
  rmSync(a.work, { recursive: true, force: true })
  // leave the summary of failure signatures on stderr for the log
  for (const [sig, n] of failureSigs) console.error(`[fuzz ${a.target}] ${n}x ${sig}`)
  process.exit(0)
}

// ------------------------------------------------------------------ parent: the watchdog

async function parentMain(a: Args): Promise<void> {
  const self = fileURLToPath(import.meta.url)
  const started = Date.now()
  let done = 0
  let ok = 0
  let failures = 0
  let crashes = 0
  let hangs = 0
  let restarts = 0
  const refused: Record<string, number> = {}
  let last: Progress | undefined
  let seed = a.seed
  let corpusSize = 0
  let features = 0
  // SIGTERM/SIGINT: stop the child, count the cases it reported, and still write the summary
  let stopping = false
  let current: ChildProcess | undefined
  const stop = (): void => {
    stopping = true
    current?.kill('SIGKILL')
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  while (!stopping && done < a.cases && (Date.now() - started) / 1000 < a.maxSeconds) {
    const work = join(scratch, a.target, `work-${process.pid}-${restarts}`)
    mkdirSync(work, { recursive: true })
    const currentPath = join(work, 'current.json')
    const remaining = a.cases - done
    const child: ChildProcess = fork(
      self,
      ['--child', '--target', a.target, '--cases', String(remaining), '--seed', String(seed), '--corpus', a.corpus, '--work', work, '--max-seconds', String(a.maxSeconds - (Date.now() - started) / 1000)],
      { execArgv: ['--import', 'tsx', '--max-old-space-size=3072'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
    )
    current = child
    last = undefined
    child.on('message', (m: Progress) => {
      last = m
    })
    let hung = false
    const watchdog = setInterval(() => {
      try {
        const age = Date.now() - statSync(currentPath).mtimeMs
        if (age > a.timeoutMs) {
          hung = true
          child.kill('SIGKILL')
        }
      } catch {
        // not written yet (child still starting)
      }
    }, 250)
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on('exit', (code, signal) => res({ code, signal })))
    clearInterval(watchdog)
    const p: Progress | undefined = last
    const casesThisChild = p ? p.cases : 0
    if (p) {
      ok += p.ok
      failures += p.failures
      for (const [k, v] of Object.entries(p.refused)) refused[k] = (refused[k] ?? 0) + v
      corpusSize = p.corpus
      features = Math.max(features, p.features)
    }
    const clean = exit.code === 0 && p?.type === 'done'
    if (stopping) {
      done += casesThisChild
      rmSync(work, { recursive: true, force: true })
      break
    }
    if (!clean) {
      // the case in current.json crashed the child or ran past the timeout
      const why = hung ? 'hang' : 'crash'
      if (hung) hangs++
      else crashes++
      let files: Record<string, string> = {}
      try {
        files = JSON.parse(readFileSync(currentPath, 'utf8')) as Record<string, string>
      } catch {
        files = {}
      }
      const message = hung ? `a case ran longer than ${a.timeoutMs} ms` : `the process died (exit code ${exit.code}, signal ${exit.signal})`
      const path = recordFailure({ target: a.target, why, message, files, found: new Date().toISOString() })
      console.error(`[fuzz ${a.target}] ${why.toUpperCase()}: ${message} -> ${path}`)
      // the progress message lags; count the cases up to and including the one that failed
      done += casesThisChild + 1
      restarts++
      seed = (seed * 69069 + 1) >>> 0
      if (restarts > 50) {
        console.error(`[fuzz ${a.target}] giving up after 50 restarts`)
        break
      }
    } else done += casesThisChild
    rmSync(work, { recursive: true, force: true })
    if (clean) break
  }
  const seconds = (Date.now() - started) / 1000
  const summary = { target: a.target, date: new Date().toISOString(), seed: a.seed, cases: done, seconds: Math.round(seconds), ok, refused, failures, crashes, hangs, corpus: corpusSize, features, node: process.version }
  console.log(JSON.stringify(summary))
  const log = join(repoRoot, 'test/fixtures/fuzz/runs.jsonl')
  mkdirSync(join(log, '..'), { recursive: true })
  appendFileSync(log, JSON.stringify(summary) + '\n')
}

const args = parseArgs(process.argv.slice(2))
if (args.child) await childMain(args)
else await parentMain(args)

