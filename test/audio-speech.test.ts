import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadPipeline } from '../modalities/audio/pipeline.js'
import { SpeechPipeline, splitWords } from '../modalities/audio/speech.js'
import { activeRange, joinWithGaps } from '../modalities/audio/assemble.js'
import { readWav } from '../modalities/audio/wav.js'
import { optionsFromRecord } from '../src/runtime/pipeline.js'

t.test('text splits into words: case, punctuation and digit runs', async (t) => {
  t.same(splitWords('Seven, THREE... one!'), ['seven', 'three', 'one'])
  t.same(splitWords('code 731'), ['code', 'seven', 'three', 'one'])
  t.same(splitWords("  yes—no\tgo\n"), ['yes', 'no', 'go'])
  t.same(splitWords(' ,.;! '), [])
})

t.test('clip assembly: gaps are exact silence, trimming finds the loud part', async (t) => {
  const a = new Float32Array(5).fill(1)
  const b = new Float32Array(3).fill(-1)
  const { samples, starts } = joinWithGaps([a, b], 4, 2)
  t.same(starts, [2, 11])
  t.same(Array.from(samples), [0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, -1, -1, -1, 0, 0])
  const x = new Float32Array(100)
  for (let i = 40; i < 60; i++) x[i] = 0.5
  // hop 10: frames 4 and 5 are loud; one frame of margin each side
  t.same(activeRange(x, 10), [30, 70])
  t.same(activeRange(new Float32Array(50), 10), [0, 0])
})

t.test('the bundled speech model speaks a code; the WAV reads back', async (t) => {
  const tts = await loadPipeline('speech', { device: 'cpu' })
  t.teardown(() => tts.dispose())
  t.ok(tts instanceof SpeechPipeline)
  if (!(tts instanceof SpeechPipeline)) return
  t.ok(tts.vocabulary.length >= 30, 'at least 30 words')
  for (const d of ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine']) t.ok(tts.vocabulary.includes(d), d)
  t.ok(tts.voices.length >= 8, 'at least 8 voices')

  const clip = await tts.generate({ text: 'Seven three, one!', voice: 2, seed: 1, steps: 6 })
  t.equal(clip.sampleRate, 16000)
  t.same(
    clip.segments.map((s) => s.label),
    ['seven', 'three', 'one'],
  )
  // words are at most one model frame long (64 frames = 1.008 s) and come in order with 0.12 s gaps
  for (let i = 0; i < 3; i++) {
    const s = clip.segments[i]!
    t.ok(s.end - s.start > 0.1 && s.end - s.start <= 1.008 + 1e-9, `word ${i} lasts ${(s.end - s.start).toFixed(3)} s`)
    if (i > 0) t.ok(Math.abs(s.start - clip.segments[i - 1]!.end - 0.12) < 1e-9, 'gap of 0.12 s')
    // the gap is silence
    const gapStart = Math.round(clip.segments[i]!.end * clip.sampleRate)
    if (i < 2) t.ok(clip.samples.slice(gapStart, gapStart + 1900).every((v) => v === 0), `silence after word ${i}`)
  }
  let peak = 0
  for (const v of clip.samples) peak = Math.max(peak, Math.abs(v))
  t.ok(Math.abs(peak - 0.6) < 1e-6, `words are levelled to peak 0.6 (got ${peak})`)

  const dir = mkdtempSync(join(tmpdir(), 'dk-speech-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'code.wav')
  await clip.save(file)
  const back = await readWav(file)
  t.equal(back.sampleRate, 16000)
  t.equal(back.channels.length, 1)
  t.equal(back.channels[0]!.length, clip.samples.length)
  let err = 0
  for (let i = 0; i < clip.samples.length; i++) err = Math.max(err, Math.abs(back.channels[0]![i]! - clip.samples[i]!))
  t.ok(err <= 1 / 32767 + 1e-6, `16-bit round trip error ${err}`)

  // the record reproduces the clip exactly
  t.equal(clip.record.modality, 'audio')
  t.equal(clip.record.model, 'speech')
  t.same(clip.record.inputs, { text: 'Seven three, one!', voice: 2, gap: 0.12, griffinLimIterations: 32 })
  const again = await tts.generate(optionsFromRecord(clip.record) as never)
  t.same(again.samples, clip.samples, 'replayed from the record')
  const other = await tts.generate({ text: 'Seven three, one!', voice: 2, seed: 2, steps: 6 })
  t.not(other.samples.length === clip.samples.length && other.samples.every((v, i) => v === clip.samples[i]), true, 'another seed, other audio')
})

t.test('speech: bad input gets DiffuseErrors', async (t) => {
  const tts = await loadPipeline('speech', { device: 'cpu' })
  t.teardown(() => tts.dispose())
  if (!(tts instanceof SpeechPipeline)) return t.fail('not a speech pipeline')
  await t.rejects(tts.generate({ text: '' }), { code: 'INVALID_ARGUMENT' })
  await t.rejects(tts.generate({ text: ' ,.! ' }), { code: 'INVALID_ARGUMENT' })
  await t.rejects(tts.generate({ text: 42 as never }), { code: 'INVALID_ARGUMENT' })
  try {
    await tts.generate({ text: 'seven banana three kumquat' })
    t.fail('no error')
  } catch (e) {
    const err = e as { code: string; message: string; details: { unknown: string[]; vocabulary: string[] } }
    t.equal(err.code, 'UNKNOWN_WORD')
    t.same(err.details.unknown, ['banana', 'kumquat'])
    t.same(err.details.vocabulary, tts.vocabulary)
    t.match(err.message, /banana.*kumquat/)
    t.match(err.message, /zero, one, two/, 'the message lists the vocabulary')
  }
  await t.rejects(tts.generate({ text: 'one', voice: 99 }), { code: 'INVALID_ARGUMENT' })
  await t.rejects(tts.generate({ text: 'one', voice: 'klingon' }), { code: 'UNKNOWN_CLASS' })
  await t.rejects(tts.generate({ text: 'one', gap: -1 }), { code: 'INVALID_ARGUMENT' })
  await t.rejects(tts.generate({ text: 'one', steps: 0 }), { code: 'INVALID_ARGUMENT' })
  await t.rejects(tts.generate({ text: 'one', guidance: Number.NaN }), { code: 'INVALID_ARGUMENT' })
  await t.rejects(tts.generate({ text: 'one '.repeat(300) }), { code: 'INVALID_ARGUMENT' })
  const ac = new AbortController()
  ac.abort()
  await t.rejects(tts.generate({ text: 'one', steps: 3, signal: ac.signal }), { code: 'ABORTED' })
  await t.rejects(loadPipeline('no-such-model'), { code: 'UNKNOWN_MODEL' })
})
