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

t.test('found by the fuzzer: a huge token id made loading take 26 s; now FILE_FORMAT at once', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dk-tok-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const vocab = { a: 0, 'a</w>': 1, '<|startoftext|>': 2, '<|endoftext|>': 3 }
  for (const id of [250_000_000, 2 ** 31, 1e30]) {
    writeFileSync(join(dir, 'vocab.json'), JSON.stringify({ ...vocab, b: id }))
    writeFileSync(join(dir, 'merges.txt'), '')
    await t.rejects(ClipTokenizer.fromFolder(dir), { code: 'FILE_FORMAT', message: /"b" has id .* beyond the largest supported id/ }, `vocab.json id ${id}`)
  }
  rmSync(join(dir, 'vocab.json'))
  rmSync(join(dir, 'merges.txt'))
  const { clipTokenizerJson } = await import('../src/runtime/tokenizer.js')
  const json = clipTokenizerJson(vocab, []) as { added_tokens: { id: number }[] }
  json.added_tokens[0]!.id = 900_000_000
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json))
  await t.rejects(ClipTokenizer.fromFolder(dir), { code: 'FILE_FORMAT', message: /has id 900000000/ }, 'tokenizer.json added token id')
})
