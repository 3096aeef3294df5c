import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { classify, decodeFiles, type RecordedFailure } from './helpers/fuzz.js'
import { targets } from './helpers/fuzz-targets.js'

// Replays every failure scripts/fuzz.ts recorded under test/fixtures/fuzz/<target>/: each must now end
// in a clean outcome (a well-formed result or a DiffuseError refusal). Inputs that crashed or hung the
// fuzzer run in a child process with a time limit, so a regression fails this test instead of tap.

const root = fileURLToPath(new URL('..', import.meta.url))
if (existsSync(join(root, 'modalities/pointcloud/ply.ts'))) await (await import('./helpers/fuzz-ply.js')).registerPly(targets)
const dir = join(root, 'test/fixtures/fuzz')
const records: [string, RecordedFailure][] = []
if (existsSync(dir)) {
  for (const target of readdirSync(dir, { withFileTypes: true })) {
    if (!target.isDirectory()) continue
    for (const f of readdirSync(join(dir, target.name)).filter((n) => n.endsWith('.json'))) {
      records.push([`${target.name}/${f}`, JSON.parse(readFileSync(join(dir, target.name, f), 'utf8')) as RecordedFailure])
    }
  }
}

t.test('recorded fuzz failures replay cleanly', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'dk-fuzz-replay-'))
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }))
  for (const [name, rec] of records) {
    const target = targets[rec.target]
    if (!target) {
      t.comment(`${name}: no target ${rec.target} in this build (skipped)`)
      continue
    }
    if (rec.why === 'crash' || rec.why === 'hang') {
      const code = `
        const { targets } = await import(${JSON.stringify(new URL('./helpers/fuzz-targets.ts', import.meta.url).href)})
        await (await import(${JSON.stringify(new URL('./helpers/fuzz-ply.ts', import.meta.url).href)})).registerPly(targets).catch(() => undefined)
        const { classify, decodeFiles } = await import(${JSON.stringify(new URL('./helpers/fuzz.ts', import.meta.url).href)})
        const rec = JSON.parse(process.argv[1])
        let o = { kind: 'ok' }
        try { await targets[rec.target].run(decodeFiles(rec.files), process.argv[2]) } catch (e) { o = classify(e) }
        console.log(JSON.stringify(o))`
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code, JSON.stringify(rec), join(tmp, 'child')], {
        cwd: root,
        encoding: 'utf8',
        timeout: 20_000,
      })
      t.equal(r.status, 0, `${name} (${rec.why}): the child exits normally (signal ${r.signal}) ${r.stderr.slice(-400)}`)
      const last = r.stdout.trim().split('\n').pop() ?? '{}'
      t.not((JSON.parse(last) as { kind?: string }).kind, 'failure', `${name}: ${last.slice(0, 300)}`)
      continue
    }
    let outcome
    try {
      await target.run(decodeFiles(rec.files), join(tmp, 'case'))
      outcome = { kind: 'ok' }
    } catch (e) {
      outcome = classify(e)
    }
    t.not(outcome.kind, 'failure', `${name} (${rec.why}: ${rec.message.split('\n')[0]}) -> ${JSON.stringify(outcome).slice(0, 300)}`)
  }
  t.pass(`${records.length} recorded inputs replayed`)
})
