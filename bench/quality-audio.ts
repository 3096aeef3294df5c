// Audio quality of the bundled models, measured by tools nobody here wrote, beside the same measurement
// on the training data's held-out originals:
//   speech: pocketsphinx (en-us acoustic model, a JSGF grammar of the model's vocabulary) word accuracy
//           of generated isolated words vs held-out espeak-ng renditions;
//   music:  aubiopitch (yinfft) median pitch of generated notes, share within 50 cents of the requested
//           pitch, vs held-out fluidsynth notes.
// Needs: scripts/setup-audio.sh (pocketsphinx, aubio-tools) and the held-out originals from
// training/audio/make_speech_data.py and make_music_data.py (training/data/{speech,music}/eval).
// Run: npx tsx bench/quality-audio.ts [--sampler DDIM] [--steps 25] [--guidance 3] [--voices 0,1,...]
//      [--pitch-step 2] [--only speech|music] [--write]   (--write puts the table in bench/results/audio-quality.md)
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadPipeline } from '../modalities/audio/pipeline.js'
import { encodeWav } from '../modalities/audio/wav.js'
import type { SpeechPipeline } from '../modalities/audio/speech.js'
import type { MusicPipeline } from '../modalities/audio/music.js'

const args = process.argv.slice(2)
function arg(name: string): string | undefined {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? args[i + 1] : undefined
}
const root = fileURLToPath(new URL('..', import.meta.url))
const HMM = '/usr/share/pocketsphinx/model/en-us/en-us'
const DICT = '/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict'

for (const tool of ['pocketsphinx_batch', 'aubiopitch']) {
  if (spawnSync('which', [tool]).status !== 0) {
    console.error(`${tool} is missing: run scripts/setup-audio.sh`)
    process.exit(1)
  }
}

export interface Setting {
  sampler?: string
  steps?: number
  guidance?: number
}

function settingLabel(s: Setting): string {
  return `${s.sampler ?? 'default sampler'}, ${s.steps ?? 'default'} steps, guidance ${s.guidance ?? 'default'}`
}

function writeMono(path: string, samples: Float32Array, sampleRate: number): void {
  writeFileSync(path, encodeWav({ sampleRate, channels: [samples] }))
}

/** pocketsphinx_batch over 16 kHz WAV files (44-byte header) → hypothesis per utterance id. */
function recognise(dir: string, ids: string[], vocabulary: readonly string[]): Map<string, string> {
  const work = mkdtempSync(join(tmpdir(), 'dk-asr-'))
  const dict = readFileSync(DICT, 'utf8')
    .split('\n')
    .filter((l) => vocabulary.includes(l.split(/\s/)[0]!.replace(/\(\d+\)$/, '')))
  writeFileSync(join(work, 'v.dict'), dict.join('\n') + '\n')
  writeFileSync(join(work, 'v.jsgf'), `#JSGF V1.0;\ngrammar vocab;\npublic <word> = ${vocabulary.join(' | ')} ;\n`)
  writeFileSync(join(work, 'ctl'), ids.join('\n') + '\n')
  execFileSync('pocketsphinx_batch', [
    '-adcin', 'yes', '-adchdr', '44', '-cepdir', dir, '-cepext', '.wav', '-ctl', join(work, 'ctl'),
    '-jsgf', join(work, 'v.jsgf'), '-dict', join(work, 'v.dict'), '-hmm', HMM, '-hyp', join(work, 'hyp.txt'),
  ], { stdio: 'ignore' })
  const out = new Map<string, string>()
  for (const line of readFileSync(join(work, 'hyp.txt'), 'utf8').split('\n')) {
    const m = /^(.*)\((\S+)\s/.exec(line)
    if (m) out.set(m[2]!, m[1]!.trim())
  }
  rmSync(work, { recursive: true, force: true })
  return out
}

/** aubiopitch (yinfft, MIDI units): median of the voiced frames, or 0. */
function medianPitch(file: string): number {
  const out = execFileSync('aubiopitch', ['-i', file, '-u', 'midi', '-p', 'yinfft'], { encoding: 'utf8' }).trim().split(/\s+/)
  const v: number[] = []
  for (let i = 1; i < out.length; i += 2) {
    const p = Number(out[i])
    if (p > 0) v.push(p)
  }
  if (v.length === 0) return 0
  v.sort((a, b) => a - b)
  const mid = v.length >> 1
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2
}

function speechOriginals(vocabulary: readonly string[], voices: number[]): { accuracy: number; n: number } {
  const dir = join(root, 'training/data/speech/eval')
  if (!existsSync(dir)) throw new Error(`${dir} is missing: run python3 training/audio/make_speech_data.py`)
  const ids = readdirSync(dir)
    .filter((f) => f.endsWith('.wav') && voices.includes(Number(f.split('_')[1])))
    .map((f) => f.slice(0, -4))
  const hyp = recognise(dir, ids, vocabulary)
  const ok = ids.filter((id) => hyp.get(id) === id.split('_')[0]).length
  return { accuracy: ok / ids.length, n: ids.length }
}

async function speechGenerated(tts: SpeechPipeline, voices: number[], s: Setting, seed: number): Promise<{ accuracy: number; n: number; seconds: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'dk-speech-'))
  const ids: string[] = []
  const t0 = performance.now()
  for (const voice of voices) {
    // every word of the vocabulary in one call (one batch); each word then scored on its own
    const clip = await tts.generate({ text: tts.vocabulary.join(' '), voice, seed: seed + voice, ...s })
    const pad = Math.round(0.1 * clip.sampleRate)
    clip.segments.forEach((seg, i) => {
      const a = Math.max(0, Math.round(seg.start * clip.sampleRate) - pad)
      const b = Math.min(clip.samples.length, Math.round(seg.end * clip.sampleRate) + pad)
      const id = `${seg.label}_${voice}_${i}`
      writeMono(join(dir, `${id}.wav`), clip.samples.slice(a, b), clip.sampleRate)
      ids.push(id)
    })
  }
  const seconds = (performance.now() - t0) / 1000
  const hyp = recognise(dir, ids, tts.vocabulary)
  const ok = ids.filter((id) => hyp.get(id) === id.split('_')[0]).length
  rmSync(dir, { recursive: true, force: true })
  return { accuracy: ok / ids.length, n: ids.length, seconds }
}

function musicOriginals(pitchStep: number): { within: number; n: number } {
  const dir = join(root, 'training/data/music/eval')
  if (!existsSync(dir)) throw new Error(`${dir} is missing: run python3 training/audio/make_music_data.py`)
  const files = readdirSync(dir).filter((f) => f.endsWith('.wav') && (Number(f.split('_')[1]) - 36) % pitchStep === 0)
  let ok = 0
  for (const f of files) if (Math.abs(medianPitch(join(dir, f)) - Number(f.split('_')[1])) < 0.5) ok++
  return { within: ok / files.length, n: files.length }
}

async function musicGenerated(music: MusicPipeline, pitchStep: number, s: Setting, seed: number): Promise<{ within: number; n: number; seconds: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'dk-music-'))
  const [lo, hi] = music.pitchRange
  const pitches: number[] = []
  for (let p = lo; p <= hi; p += pitchStep) pitches.push(p)
  let ok = 0
  let n = 0
  const t0 = performance.now()
  const files: { file: string; pitch: number }[] = []
  for (const instrument of music.instruments) {
    // the training notes' shape: 0.75 s held (1.5 beats at 120 bpm), then silence for the release
    const notes = pitches.map((p) => ({ pitch: p, duration: 1.5, start: 3 * pitches.indexOf(p) }))
    const clip = await music.generate({ notes, instrument, seed, ...s })
    clip.segments.forEach((seg, i) => {
      const a = Math.round(seg.start * clip.sampleRate)
      const b = Math.min(clip.samples.length, a + Math.round(1.1 * clip.sampleRate))
      const file = join(dir, `${instrument}_${pitches[i]}.wav`)
      writeMono(file, clip.samples.slice(a, b), clip.sampleRate)
      files.push({ file, pitch: pitches[i]! })
    })
  }
  const seconds = (performance.now() - t0) / 1000
  for (const f of files) {
    n++
    if (Math.abs(medianPitch(f.file) - f.pitch) < 0.5) ok++
  }
  rmSync(dir, { recursive: true, force: true })
  return { within: ok / n, n, seconds }
}

const only = arg('only')
const setting: Setting = {
  ...(arg('sampler') ? { sampler: arg('sampler')! } : {}),
  ...(arg('steps') ? { steps: Number(arg('steps')) } : {}),
  ...(arg('guidance') ? { guidance: Number(arg('guidance')) } : {}),
}
const voices = (arg('voices') ?? '0,1,2,3,4,5,6,7').split(',').map(Number)
const pitchStep = Number(arg('pitch-step') ?? 2)
const seed = Number(arg('seed') ?? 1000)
const lines: string[] = []
const machine = `${cpus()[0]?.model ?? 'cpu'} × ${cpus().length} threads, Node ${process.version}`

if (only !== 'music') {
  const tts = (await loadPipeline('speech', { device: 'cpu' })) as SpeechPipeline
  const orig = speechOriginals(tts.vocabulary, voices)
  const gen = await speechGenerated(tts, voices, setting, seed)
  await tts.dispose()
  const ratio = gen.accuracy / orig.accuracy
  lines.push(
    `| speech | pocketsphinx word accuracy (JSGF grammar of ${tts.vocabulary.length} words) | ${(gen.accuracy * 100).toFixed(1)}% of ${gen.n} | ${(orig.accuracy * 100).toFixed(1)}% of ${orig.n} held-out espeak-ng | **${(ratio * 100).toFixed(0)}%** | ${gen.seconds.toFixed(0)} s |`,
  )
  console.log(lines.at(-1))
}
if (only !== 'speech') {
  const music = (await loadPipeline('music', { device: 'cpu' })) as MusicPipeline
  const orig = musicOriginals(pitchStep)
  const gen = await musicGenerated(music, pitchStep, setting, seed)
  await music.dispose()
  const ratio = gen.within / orig.within
  lines.push(
    `| music | aubiopitch median within 50 cents | ${(gen.within * 100).toFixed(1)}% of ${gen.n} | ${(orig.within * 100).toFixed(1)}% of ${orig.n} held-out fluidsynth | **${(ratio * 100).toFixed(0)}%** | ${gen.seconds.toFixed(0)} s |`,
  )
  console.log(lines.at(-1))
}

const table = [
  `Setting: ${settingLabel(setting)}; seed ${seed}; ${machine}.`,
  '',
  '| model | measure | generated | originals | generated / originals | generation time |',
  '|---|---|---|---|---|---|',
  ...lines,
].join('\n')
console.log('\n' + table)
if (args.includes('--write')) {
  const file = join(root, 'bench/results/audio-quality.md')
  const begin = '<!-- quality-audio:begin -->'
  const end = '<!-- quality-audio:end -->'
  const old = existsSync(file) ? readFileSync(file, 'utf8') : `## Audio quality\n\n${begin}\n${end}\n`
  const i = old.indexOf(begin)
  const j = old.indexOf(end)
  const next = i >= 0 && j > i ? old.slice(0, i + begin.length) + '\n' + table + '\n' + old.slice(j) : old + `\n${begin}\n${table}\n${end}\n`
  writeFileSync(file, next)
  console.log(`wrote ${file}`)
}
