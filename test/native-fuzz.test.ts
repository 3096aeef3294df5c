import t from 'tap'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { loadAddon } from '../src/native/loader.js'

// Hostile calls into the native addon, each scenario in a CHILD process: a segfault/abort there is a
// failed assertion here instead of a dead test runner. The functions are the ones the loaded addon
// object exports (listed at run time), so a new kernel is fuzzed without editing this file.
// scripts/sanitize.sh runs the same child under AddressSanitizer + UBSan.

const root = fileURLToPath(new URL('..', import.meta.url))
const child = fileURLToPath(new URL('./helpers/native-fuzz-child.ts', import.meta.url))
const addon = loadAddon()

interface Summary {
  scenario: string
  functions: string[]
  calls: number
  threw: number
  nonError: string[]
  rejected: number
  resolved: number
}

function runScenario(scenario: string, seed: number, calls: number): { status: number | null; signal: string | null; summary?: Summary; stderr: string } {
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', child, scenario, String(seed), String(calls)], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, DIFFUSEKIT_KERNELS: '' },
  })
  const last = r.stdout.trim().split('\n').pop() ?? ''
  let summary: Summary | undefined
  try {
    summary = JSON.parse(last) as Summary
  } catch {
    summary = undefined
  }
  return { status: r.status, signal: r.signal, summary, stderr: r.stderr.slice(-1500) }
}

const skip = addon ? false : 'native addon not loaded'

t.test('random arguments of every kind to every exported function: JS errors only', { skip }, async (t) => {
  for (const seed of [1, 2]) {
    const r = runScenario('random', seed, 2000)
    t.equal(r.signal, null, `seed ${seed}: no signal (crash) ${r.stderr}`)
    t.equal(r.status, 0, `seed ${seed}: exit status 0`)
    t.ok(r.summary, 'summary printed')
    if (!r.summary) continue
    t.same(r.summary.nonError, [], 'every throw/rejection is an Error object')
    t.ok(r.summary.functions.length >= 10, `${r.summary.functions.length} functions: ${r.summary.functions.join(', ')}`)
    t.ok(r.summary.threw > r.summary.calls / 2, `${r.summary.calls} calls, ${r.summary.threw} threw`)
  }
})

t.test('valid calls with one argument spoiled (lengths ±1, offset views, detached/shared buffers, NaN, wrong arity)', { skip }, async (t) => {
  for (const seed of [3, 4]) {
    const r = runScenario('template', seed, 2000)
    t.equal(r.signal, null, `seed ${seed}: no signal (crash) ${r.stderr}`)
    t.equal(r.status, 0, `seed ${seed}: exit status 0`)
    if (!r.summary) {
      t.fail('no summary')
      continue
    }
    t.same(r.summary.nonError, [], 'every throw/rejection is an Error object')
    t.ok(r.summary.resolved > 0, `${r.summary.resolved} async calls resolved, ${r.summary.rejected} rejected, ${r.summary.threw} threw`)
  }
})

t.test('buffers detached and collected while an async kernel runs: the process survives', { skip }, async (t) => {
  const r = runScenario('detach', 5, 1000)
  t.equal(r.signal, null, `no signal (crash) ${r.stderr}`)
  t.equal(r.status, 0, 'exit status 0')
  t.same(r.summary?.nonError, [], 'only Error objects')
})

// Found by this test (the process aborted: "terminate called after throwing an instance of 'Napi::Error'");
// fixed in native/job.h (a6c5308). The detach scenario above found a use-after-free under ASan (fixed: 7800f43).
t.test('worker threads terminated while their async kernels run: the process survives', { skip }, async (t) => {
  // The SDK's WorkerPool.dispose() terminates busy workers, so this is what a service does when it
  // shuts a pool down mid-generation.
  const r = runScenario('worker', 6, 2000)
  t.equal(r.signal, null, `no signal (crash/abort) ${r.stderr}`)
  t.equal(r.status, 0, `exit status 0 ${r.stderr}`)
})
