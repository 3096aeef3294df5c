import t from 'tap'
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClipTokenizer } from '../src/runtime/tokenizer.js'
import { tokenizerTarget } from './helpers/fuzz-targets.js'
import { runCases } from './helpers/fuzz-run.js'

// Generative fuzz of tokenizer folders (vocab.json + merges.txt + tokenizer_config.json, the tiny-sd
// fixture's and a hand-made one), then encode/decode of several prompts with each accepted tokenizer.

t.test('500 mutated tokenizer folders: clean refusals or well-formed ids', async (t) => {
  const tally = await runCases(tokenizerTarget, 0x5eed06, 500)
  t.same(tally.failures, [], 'no non-DiffuseError exception, no garbage')
  t.ok(tally.ok > 30, `${tally.ok} accepted`)
  t.ok((tally.refused.FILE_FORMAT ?? 0) > 30, `refusals: ${JSON.stringify(tally.refused)}`)
})

t.test('specific broken tokenizer files give FILE_FORMAT / MODEL_LOAD naming the file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dk-tok-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(dir, { recursive: true })
  const vocab = { a: 0, 'a</w>': 1, '<|startoftext|>': 2, '<|endoftext|>': 3 }
  await t.rejects(ClipTokenizer.fromFolder(dir), { code: 'MODEL_LOAD', message: /vocab\.json/ })
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify(vocab))
  writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\na b c\n')
  await t.rejects(ClipTokenizer.fromFolder(dir), { code: 'FILE_FORMAT', message: /merges\.txt line 2/ })
  writeFileSync(join(dir, 'merges.txt'), '')
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify({ ...vocab, b: -4 }))
  await t.rejects(ClipTokenizer.fromFolder(dir), { code: 'FILE_FORMAT', message: /"b" has id -4/ })
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify({ a: 0 }))
  await t.rejects(ClipTokenizer.fromFolder(dir), { code: 'FILE_FORMAT', message: /not in the vocabulary/ })
  writeFileSync(join(dir, 'vocab.json'), '{"a": 0,')
  await t.rejects(ClipTokenizer.fromFolder(dir), { code: 'FILE_FORMAT', message: /not valid JSON/ })
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify(vocab))
  const tok = await ClipTokenizer.fromFolder(dir, { maxLength: 5 })
  t.same(Array.from(tok.encode('a a a a a').ids), [2, 1, 1, 1, 3], 'BOS, truncated text, EOS (independent expectation)')
})
