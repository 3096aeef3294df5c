import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DiffuseError } from '../src/errors.js'
import { loadPipeline } from '../modalities/audio/pipeline.js'
import { MusicPipeline, retimeNote } from '../modalities/audio/music.js'
import { noteName, parseNotes, parsePitch } from '../modalities/audio/notes.js'
import { readWav } from '../modalities/audio/wav.js'
import { rfft } from '../modalities/audio/fft.js'

const limits = { minPitch: 36, maxPitch: 96, maxNoteSeconds: 10, maxTotalSeconds: 600, maxNotes: 1024 }

function code(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (e) {
    return e instanceof DiffuseError ? e.code : `not a DiffuseError: ${String(e)}`
  }
  return undefined
}

t.test('note names follow scientific pitch notation (A4 = MIDI 69 = 440 Hz, C4 = 60)', async (t) => {
  // closed form: midi = 12 * (octave + 1) + semitone
  t.equal(parsePitch('C4'), 60)
  t.equal(parsePitch('A4'), 69)
  t.equal(parsePitch('C#4'), 61)
  t.equal(parsePitch('Db4'), 61)
  t.equal(parsePitch('B3'), 59)
  t.equal(parsePitch('c5'), 72)
  t.equal(parsePitch('C-1'), 0)
  t.equal(parsePitch('G9'), 127)
  t.equal(parsePitch('60'), 60)
  t.equal(parsePitch(96), 96)
  for (let m = 0; m < 128; m++) t.equal(parsePitch(noteName(m)), m, `noteName round trip ${m}`)
  t.equal(code(() => parsePitch('H4')), 'INVALID_ARGUMENT')
  t.equal(code(() => parsePitch('C')), 'INVALID_ARGUMENT')
  t.equal(code(() => parsePitch(60.5)), 'INVALID_ARGUMENT')
  t.equal(code(() => parsePitch(null)), 'INVALID_ARGUMENT')
})

t.test('note strings become timed events (beats at the tempo)', async (t) => {
  // 120 bpm: a beat is 0.5 s
  const ev = parseNotes('C4 E4:2 r G4+C5, 67:0.5', 120, limits)
  t.same(ev, [
    { pitch: 60, start: 0, duration: 0.5 },
    { pitch: 64, start: 0.5, duration: 1 },
    { pitch: 67, start: 2, duration: 0.5 },
    { pitch: 72, start: 2, duration: 0.5 },
    { pitch: 67, start: 2.5, duration: 0.25 },
  ])
  const arr = parseNotes([{ pitch: 'A4', duration: 2 }, { pitch: [60, 'E4'], start: 0 }, { pitch: 62 }], 60, limits)
  t.same(arr, [
    { pitch: 69, start: 0, duration: 2 },
    { pitch: 60, start: 0, duration: 1 },
    { pitch: 64, start: 0, duration: 1 },
    { pitch: 62, start: 1, duration: 1 },
  ])
})

t.test('bad notes: out of range, malformed, absurd durations, empty', async (t) => {
  t.equal(code(() => parseNotes('C1', 120, limits)), 'INVALID_ARGUMENT', 'below the range')
  t.equal(code(() => parseNotes('C8', 120, limits)), 'INVALID_ARGUMENT', 'above the range')
  try {
    parseNotes('C4 C2', 120, limits)
  } catch (e) {
    t.match((e as Error).message, /C2.*out of the model's range C2|MIDI 36/, 'the message names the range')
  }
  t.equal(code(() => parseNotes('X4', 120, limits)), 'INVALID_ARGUMENT')
  t.equal(code(() => parseNotes('C4:0', 120, limits)), 'INVALID_ARGUMENT', 'zero duration')
  t.equal(code(() => parseNotes('C4:-1', 120, limits)), 'INVALID_ARGUMENT', 'negative duration')
  t.equal(code(() => parseNotes('C4:abc', 120, limits)), 'INVALID_ARGUMENT')
  t.equal(code(() => parseNotes('C4:1:2', 120, limits)), 'INVALID_ARGUMENT')
  t.equal(code(() => parseNotes('C4:1000', 120, limits)), 'INVALID_ARGUMENT', '500 s note')
  t.equal(code(() => parseNotes('C4:0.01', 120, limits)), 'INVALID_ARGUMENT', '5 ms note')
  t.equal(code(() => parseNotes([{ pitch: 'C4', start: 5000 }], 120, limits)), 'INVALID_ARGUMENT', 'a piece of 2500 s')
  t.equal(code(() => parseNotes([{ pitch: 'C4', duration: Number.NaN }], 120, limits)), 'INVALID_ARGUMENT')
  t.equal(code(() => parseNotes([{ pitch: 'C4', start: -1 }], 120, limits)), 'INVALID_ARGUMENT')
  t.equal(code(() => parseNotes('', 120, limits)), 'INVALID_ARGUMENT', 'no notes')
  t.equal(code(() => parseNotes('r:2', 120, limits)), 'INVALID_ARGUMENT', 'only a rest')
  t.equal(code(() => parseNotes(42, 120, limits)), 'INVALID_ARGUMENT')
  t.equal(code(() => parseNotes([null], 120, limits)), 'INVALID_ARGUMENT')
})

t.test('retimeNote keeps the attack and the release and resamples the sustain linearly', async (t) => {
  // an image whose value at frame j is j (2 mel rows), 10 frames: onset 1, attack 2, release at 6
  const frames = 10
  const img = new Float32Array(2 * frames)
  for (let m = 0; m < 2; m++) for (let j = 0; j < frames; j++) img[m * frames + j] = j
  const layout = { onsetFrame: 1, attackFrames: 2, releaseFrame: 6 }
  const longer = retimeNote(img, 2, layout, 9)
  t.equal(longer.frames, 9 + 4)
  const row = Array.from(longer.image.slice(0, longer.frames))
  // frames 0..2 kept; 3..8 map 3 + (j-3)*3/6; then 6,7,8,9
  t.same(row, [0, 1, 2, 3, 3.5, 4, 4.5, 5, 5.5, 6, 7, 8, 9])
  t.same(Array.from(longer.image.slice(longer.frames)), row, 'every mel row alike')
  const same = retimeNote(img, 2, layout, 6)
  t.same(Array.from(same.image.slice(0, same.frames)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'the training length is the identity')
  const shorter = retimeNote(img, 2, layout, 2)
  t.same(Array.from(shorter.image.slice(0, shorter.frames)), [0, 1, 6, 7, 8, 9], 'a note shorter than its attack: cut, then the release')
})

/**
 * Fundamental estimate (float64) near an expected pitch: the candidate f (±1 semitone, 0.25 Hz steps)
 * whose first 8 harmonics collect the most spectral magnitude. Searching only near the request keeps
 * octave ambiguity (an organ's 2nd harmonic can be its strongest) out of a pitch-accuracy check.
 */
function harmonicPitch(x: Float32Array, rate: number, expected: number): number {
  const n = 1 << 16
  const len = Math.min(n, x.length)
  const buf = new Float64Array(n)
  for (let i = 0; i < len; i++) buf[i] = x[i]! * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / len))
  const { re, im } = rfft(buf)
  const mag = (f: number): number => {
    const k = Math.round((f * n) / rate)
    let m = 0
    for (let j = k - 1; j <= k + 1; j++) m = Math.max(m, Math.hypot(re[j] ?? 0, im[j] ?? 0))
    return m
  }
  let best = expected
  let bestScore = -1
  for (let f = expected / 2 ** (1 / 12); f <= expected * 2 ** (1 / 12); f += 0.25) {
    let score = 0
    for (let h = 1; h <= 8 && h * f < rate / 2; h++) score += mag(h * f)
    if (score > bestScore) {
      bestScore = score
      best = f
    }
  }
  return best
}

t.test('the bundled music model plays notes at their pitch, chords summed, WAV readable', async (t) => {
  const music = await loadPipeline('music', { device: 'cpu' })
  t.teardown(() => music.dispose())
  t.ok(music instanceof MusicPipeline)
  if (!(music instanceof MusicPipeline)) return
  t.ok(music.instruments.length >= 6, 'at least 6 instruments')
  t.same(music.pitchRange, [36, 96])
  const dir = mkdtempSync(join(tmpdir(), 'dk-music-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))

  const clip = await music.generate({ notes: 'A4:2', instrument: 'flute', seed: 3 })
  t.equal(clip.sampleRate, 22050)
  // 2 beats at 120 bpm = 1 s held, then the release
  t.ok(clip.duration > 1 && clip.duration < 2, `duration ${clip.duration}`)
  const f0 = harmonicPitch(clip.samples, clip.sampleRate, 440)
  const cents = 1200 * Math.log2(f0 / 440)
  t.ok(Math.abs(cents) < 50, `A4 played at ${f0.toFixed(1)} Hz (${cents.toFixed(0)} cents from 440)`)

  const file = join(dir, 'a4.wav')
  await clip.save(file)
  const back = await readWav(file)
  t.equal(back.sampleRate, clip.sampleRate)
  t.equal(back.channels.length, 1)
  t.equal(back.channels[0]!.length, clip.samples.length)
  let err = 0
  for (let i = 0; i < clip.samples.length; i++) err = Math.max(err, Math.abs(back.channels[0]![i]! - clip.samples[i]!))
  t.ok(err <= 1 / 32767 + 1e-6, `16-bit round trip error ${err}`)

  const chord = await music.generate({ notes: 'C4+E4+G4 C5', instrument: 'piano', seed: 4, steps: 4 })
  t.same(
    chord.segments.map((s) => s.label),
    ['C4', 'E4', 'G4', 'C5'],
  )
  t.same(
    chord.segments.map((s) => s.start),
    [0, 0, 0, 0.5],
  )
  let peak = 0
  for (const v of chord.samples) peak = Math.max(peak, Math.abs(v))
  t.ok(peak > 0.1 && peak <= 0.95 + 1e-6, `mixed chord peak ${peak} kept below clipping`)
  t.same(chord.record.inputs, { notes: 'C4+E4+G4 C5', instrument: 'piano', tempo: 120, griffinLimIterations: 32 })

  const again = await music.generate({ notes: 'C4+E4+G4 C5', instrument: 'piano', seed: 4, steps: 4 })
  t.same(again.samples, chord.samples, 'same seed, same audio')
})

t.test('music pipeline: bad input gets DiffuseErrors', async (t) => {
  const music = await loadPipeline('music', { device: 'cpu' })
  t.teardown(() => music.dispose())
  if (!(music instanceof MusicPipeline)) return t.fail('not a music pipeline')
  await t.rejects(music.generate({ notes: 'C4', instrument: 'kazoo' }), { code: 'UNKNOWN_CLASS' })
  await t.rejects(music.generate({ notes: 'C1' }), { code: 'INVALID_ARGUMENT' })
  await t.rejects(music.generate({ notes: 'C4:5000' }), { code: 'INVALID_ARGUMENT' })
  await t.rejects(music.generate({ notes: '' }), { code: 'INVALID_ARGUMENT' })
  await t.rejects(music.generate({ notes: 'C4', tempo: 0 }), { code: 'INVALID_ARGUMENT' })
  await t.rejects(music.generate({ notes: 'C4', steps: 0 }), { code: 'INVALID_ARGUMENT' })
  await t.rejects(music.generate({ notes: 'C4', sampler: 'NoSuchSampler' }), { code: 'UNKNOWN_SAMPLER' })
  await t.rejects(music.generate(null as never), { code: 'INVALID_ARGUMENT' })
  const ac = new AbortController()
  ac.abort()
  await t.rejects(music.generate({ notes: 'C4', steps: 3, signal: ac.signal }), { code: 'ABORTED' })
})
