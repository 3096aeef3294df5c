/**
 * Runs a fuzz target for a fixed number of deterministic cases inside a tap test (no coverage
 * guidance: CI wants the same cases every run). Returns the tallies so each test can also check that
 * the run was not vacuous (some inputs accepted, some refused).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { classify, encodeFiles, pick, rng, type Files } from './fuzz.js'
import type { FuzzTarget } from './fuzz-targets.js'

export interface FuzzTally {
  cases: number
  ok: number
  refused: Record<string, number>
  failures: { why: string; message: string; input: Record<string, string> }[]
}

export async function runCases(target: FuzzTarget, seed: number, cases: number): Promise<FuzzTally> {
  const r = rng(seed)
  const seeds = target.seeds()
  const corpus: Files[] = [...seeds]
  const tmp = mkdtempSync(join(tmpdir(), `dk-fuzz-${target.name}-`))
  const tally: FuzzTally = { cases: 0, ok: 0, refused: {}, failures: [] }
  try {
    for (let i = 0; i < cases; i++) {
      const input = i < seeds.length ? seeds[i]! : target.mutate(pick(r, corpus), r, corpus)
      tally.cases++
      try {
        await target.run(input, join(tmp, 'case'))
        tally.ok++
        // accepted inputs become parents of later mutations (a crude stand-in for coverage guidance)
        if (i >= seeds.length && corpus.length < 400 && r() < 0.2) corpus.push(input)
      } catch (e) {
        const o = classify(e)
        if (o.kind === 'refused') tally.refused[o.code] = (tally.refused[o.code] ?? 0) + 1
        else if (o.kind === 'failure' && tally.failures.length < 5) tally.failures.push({ why: o.why, message: o.message, input: encodeFiles(input) })
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
  return tally
}
