import t from 'tap'
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClipTokenizer, parseMerges } from '../src/runtime/tokenizer.js'

const root = new URL('..', import.meta.url).pathname
const emojiTok = join(root, 'models/emoji/tokenizer')
const tinyA = join(root, 'test/fixtures/image/tiny-sd-a/tokenizer')
const tinyB = join(root, 'test/fixtures/image/tiny-sd-b/tokenizer')

/**
 * CLIP's BPE written out plainly (lowercase, whitespace collapse, CLIP's split regex, byte-level
 * characters, `</w>` on the last symbol, then merge the lowest-ranked pair until none applies): the
 * independent reference the library-backed tokenizer is checked against.
 */
function referenceClip(vocab: Record<string, number>, merges: string[], text: string, maxLength: number): number[] {
  const ranks = new Map(merges.map((m, i) => [m, i]))
  const bs: number[] = []
  for (let b = 33; b <= 126; b++) bs.push(b)
  for (let b = 161; b <= 172; b++) bs.push(b)
  for (let b = 174; b <= 255; b++) bs.push(b)
  const cs = [...bs]
  let n = 0
  for (let b = 0; b < 256; b++) if (!bs.includes(b)) (bs.push(b), cs.push(256 + n++))
  const byteChar = new Map(bs.map((b, i) => [b, String.fromCodePoint(cs[i]!)]))
  const clean = text.normalize('NFC').replace(/\s+/g, ' ').toLowerCase()
  const words = clean.match(/'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+/gu) ?? []
  const ids: number[] = []
  for (const w of words) {
    const chars = Array.from(new TextEncoder().encode(w), (b) => byteChar.get(b)!)
    let word = [...chars.slice(0, -1), chars[chars.length - 1] + '</w>']
    for (;;) {
      let best = -1
      let bestRank = Infinity
      for (let i = 0; i < word.length - 1; i++) {
        const r = ranks.get(`${word[i]} ${word[i + 1]}`)
        if (r !== undefined && r < bestRank) (bestRank = r), (best = i)
      }
      if (best < 0) break
      const [a, b] = [word[best]!, word[best + 1]!]
      const out: string[] = []
      for (let i = 0; i < word.length; i++) {
        if (i < word.length - 1 && word[i] === a && word[i + 1] === b) (out.push(a + b), i++)
        else out.push(word[i]!)
      }
      word = out
    }
    for (const tok of word) ids.push(vocab[tok] ?? vocab['<|endoftext|>']!)
  }
  const eos = vocab['<|endoftext|>']!
  const kept = ids.slice(0, maxLength - 2)
  const row = [vocab['<|startoftext|>']!, ...kept, eos]
  while (row.length < maxLength) row.push(eos)
  return row
}

t.test('emoji tokenizer (vocab.json + merges.txt) gives the ids of the Python CLIP BPE used in training', async (t) => {
  const fx = JSON.parse(readFileSync(join(root, 'test/fixtures/image/emoji-token-ids.json'), 'utf8')) as {
    max_length: number
    cases: { text: string; ids: number[]; token_count: number }[]
  }
  const tok = await ClipTokenizer.fromFolder(emojiTok)
  t.equal(tok.maxLength, fx.max_length, 'model_max_length from tokenizer_config.json')
  for (const c of fx.cases) {
    const e = tok.encode(c.text)
    t.same(Array.from(e.ids), c.ids, JSON.stringify(c.text))
    t.equal(e.tokenCount, c.token_count)
  }
})

t.test('library BPE equals the plain reference BPE on the emoji vocabulary, including odd text', async (t) => {
  const vocab = JSON.parse(readFileSync(join(emojiTok, 'vocab.json'), 'utf8')) as Record<string, number>
  const merges = parseMerges(readFileSync(join(emojiTok, 'merges.txt'), 'utf8'))
  const tok = ClipTokenizer.fromVocabMerges(vocab, merges, { maxLength: 32 })
  const texts = ['Red apple', 'café au lait 🍎', "it's 12 o'clock!!", 'tab\tand\nnewline', '  ', 'ÅLAND ISLANDS flag', 'x'.repeat(40), '日本']
  for (const s of texts) t.same(Array.from(tok.encode(s).ids), referenceClip(vocab, merges, s, 32), JSON.stringify(s))
})

t.test('tokenizer.json and vocab.json + merges.txt of the same BPE tokenize identically', async (t) => {
  const a = await ClipTokenizer.fromFolder(tinyA, { maxLength: 77 })
  const b = await ClipTokenizer.fromFolder(tinyB)
  t.equal(b.maxLength, 77, 'no tokenizer_config.json: CLIP length 77')
  t.equal(a.vocabSize, b.vocabSize)
  for (const s of ['red apple', 'smiling face with sunglasses', 'Flag: Åland', '3 cats & 2 dogs']) {
    t.same(Array.from(b.encode(s).ids), Array.from(a.encode(s).ids), s)
  }
  t.same(b.tokenize('red apple').join(' ').includes('</w>'), true, 'word ends marked')
  t.equal(b.decode(b.encode('red apple').ids), 'red apple')
})

t.test('padding and truncation to the model length', async (t) => {
  const tok = await ClipTokenizer.fromFolder(tinyA)
  t.equal(tok.maxLength, 16)
  const short = tok.encode('red')
  t.equal(short.ids.length, 16)
  t.equal(short.ids[0], tok.bosId)
  t.equal(short.truncated, false)
  t.ok(Array.from(short.ids.slice(1 + short.tokenCount)).every((v) => v === tok.eosId), 'EOS then EOS padding (SD 1.x)')
  const empty = tok.encode('')
  t.same(Array.from(empty.ids.slice(0, 2)), [tok.bosId, tok.eosId], 'empty prompt = BOS EOS padding')
  const long = tok.encode('red '.repeat(40))
  t.equal(long.truncated, true)
  t.equal(long.tokenCount, 40)
  t.equal(long.ids.length, 16)
  t.equal(long.ids[15], tok.eosId, 'EOS kept last')
})

t.test('pad token and length from tokenizer_config.json', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tok-'))
  for (const f of ['vocab.json', 'merges.txt']) writeFileSync(join(dir, f), readFileSync(join(tinyA, f)))
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ model_max_length: 8, pad_token: { content: '!', __type: 'AddedToken' } }))
  const tok = await ClipTokenizer.fromFolder(dir)
  const vocab = JSON.parse(readFileSync(join(tinyA, 'vocab.json'), 'utf8')) as Record<string, number>
  t.equal(tok.maxLength, 8)
  t.equal(tok.padId, vocab['!'], 'SD 2.x style "!" padding')
  t.equal(tok.encode('red').ids[7], vocab['!'])
})

t.test('bad tokenizer files and arguments give DiffuseErrors', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tok-bad-'))
  await t.rejects(ClipTokenizer.fromFolder(dir), { code: 'MODEL_LOAD', message: /vocab\.json/ })
  writeFileSync(join(dir, 'vocab.json'), readFileSync(join(tinyA, 'vocab.json')))
  await t.rejects(ClipTokenizer.fromFolder(dir), { code: 'MODEL_LOAD', message: /merges\.txt/ })
  writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\nr e\nthis line has three\n')
  await t.rejects(ClipTokenizer.fromFolder(dir), { code: 'FILE_FORMAT', message: /merges\.txt line 3/ })
  writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\nr e\n')
  writeFileSync(join(dir, 'vocab.json'), '{"a": 1,')
  await t.rejects(ClipTokenizer.fromFolder(dir), { code: 'FILE_FORMAT', message: /vocab\.json/ })
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify({ a: 0, b: 1 }))
  await t.rejects(ClipTokenizer.fromFolder(dir), { code: 'FILE_FORMAT', message: /startoftext/ })
  const sub = join(dir, 'tj')
  mkdirSync(sub)
  writeFileSync(join(sub, 'tokenizer.json'), JSON.stringify({ version: '1.0' }))
  await t.rejects(ClipTokenizer.fromFolder(sub), { code: 'FILE_FORMAT', message: /tokenizer\.json/ })
  const tok = await ClipTokenizer.fromFolder(tinyA)
  t.throws(() => tok.encode(42 as unknown as string), { code: 'INVALID_ARGUMENT' })
  t.throws(() => ClipTokenizer.fromVocabMerges({ a: -1 }, []), { code: 'FILE_FORMAT' })
})
