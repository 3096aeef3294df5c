import { DiffuseError, invalidArgument } from '../../src/errors.js'
import type { ModelFolder } from '../../src/runtime/model-folder.js'
import { makeRecord, resolveRun, type CommonGenerateOptions, type PipelineOptions } from '../../src/runtime/pipeline.js'
import { checkInteger, checkNumber } from '../../src/validate.js'
import { fadeEdges, mixAt, normalisePeak } from './assemble.js'
import { AudioClip } from './clip.js'
import { MelDiffusionModel } from './mel-model.js'
import { noteName, parseNotes, type NoteEvent, type NoteInput } from './notes.js'

export interface MusicGenerateOptions extends CommonGenerateOptions {
  /** "C4 E4 G4 C5", "C4+E4+G4:2 r G3", or [{pitch, duration?, start?}] (times in beats) */
  notes: string | readonly NoteInput[]
  /** an instrument name of the model (see `instruments`); default the first */
  instrument?: string
  /** beats per minute (default 120: a beat is half a second) */
  tempo?: number
  /** Griffin-Lim iterations (default 32) */
  griffinLimIterations?: number
}

/** Where a note sits in the model's fixed-length image (diffusekit.json "note"). */
interface NoteLayout {
  /** frame of the note-on */
  onsetFrame: number
  /** frames after the onset kept as they are when a note is lengthened or shortened (the attack) */
  attackFrames: number
  /** frame of the note-off in training (the release follows it) */
  releaseFrame: number
}

/**
 * Changes a note image's held length: the attack stays, the sustain is resampled (linear, along time,
 * in the log-mel domain) to end at `targetRelease`, and the release tail follows.
 */
export function retimeNote(image: Float32Array, nMels: number, layout: NoteLayout, targetRelease: number): { image: Float32Array; frames: number } {
  const frames = image.length / nMels
  const a = layout.onsetFrame + layout.attackFrames
  const r = layout.releaseFrame
  const tail = frames - r
  const held = Math.max(targetRelease, 1)
  const outFrames = held + tail
  const out = new Float32Array(nMels * outFrames)
  const source = (j: number): number => {
    if (j < Math.min(a, held) || held <= a) return j
    return a + ((j - a) * (r - a)) / (held - a)
  }
  for (let j = 0; j < outFrames; j++) {
    const s = j < held ? source(j) : r + (j - held)
    const s0 = Math.min(Math.floor(s), frames - 1)
    const s1 = Math.min(s0 + 1, frames - 1)
    const w = s - s0
    for (let m = 0; m < nMels; m++) out[m * outFrames + j] = (1 - w) * image[m * frames + s0]! + w * image[m * frames + s1]!
  }
  return { image: out, frames: outFrames }
}

/** Notes → music with the bundled single-note model; chords are summed notes. */
export class MusicPipeline {
  readonly kind = 'music' as const
  readonly instruments: readonly string[]
  readonly pitchRange: readonly [number, number]
  private readonly layout: NoteLayout
  private readonly mel: MelDiffusionModel

  private constructor(mel: MelDiffusionModel, instruments: string[], pitchRange: [number, number], layout: NoteLayout) {
    this.mel = mel
    this.instruments = instruments
    this.pitchRange = pitchRange
    this.layout = layout
  }

  static async load(model: ModelFolder, options: PipelineOptions = {}): Promise<MusicPipeline> {
    const c = model.config
    const instruments = c.instruments
    const range = c.pitchRange
    const note = c.note as Partial<NoteLayout> | undefined
    if (!Array.isArray(instruments) || instruments.length === 0 || instruments.some((s) => typeof s !== 'string')) {
      throw new DiffuseError('INVALID_CONFIG', `${model.root}/diffusekit.json: "instruments" must be a non-empty list of names`)
    }
    if (!Array.isArray(range) || range.length !== 2 || !range.every((v) => Number.isInteger(v)) || range[0] > range[1]) {
      throw new DiffuseError('INVALID_CONFIG', `${model.root}/diffusekit.json: "pitchRange" must be [lowest, highest] MIDI numbers`)
    }
    if (!note || ![note.onsetFrame, note.attackFrames, note.releaseFrame].every((v) => Number.isInteger(v) && (v as number) >= 0)) {
      throw new DiffuseError('INVALID_CONFIG', `${model.root}/diffusekit.json: "note" must give onsetFrame, attackFrames and releaseFrame`)
    }
    const pitchRange: [number, number] = [range[0], range[1]]
    const mel = await MelDiffusionModel.load(
      model,
      [
        { name: 'pitch', size: pitchRange[1] - pitchRange[0] + 1 },
        { name: 'instrument', size: instruments.length },
      ],
      options,
    )
    return new MusicPipeline(mel, instruments as string[], pitchRange, note as NoteLayout)
  }

  get model(): ModelFolder {
    return this.mel.model
  }

  get sampleRate(): number {
    return this.mel.representation.sampleRate
  }

  private instrumentId(name: unknown): number {
    if (name === undefined) return 0
    if (typeof name !== 'string') throw invalidArgument('instrument', `one of ${this.instruments.join(', ')}`, name)
    const i = this.instruments.indexOf(name.trim().toLowerCase())
    if (i < 0) {
      throw new DiffuseError('UNKNOWN_CLASS', `Unknown instrument "${name}"; the music model plays: ${this.instruments.join(', ')}`, {
        details: { instruments: [...this.instruments] },
      })
    }
    return i
  }

  /** Validated, timed notes of a generate() call (seconds). */
  notes(notes: unknown, tempo = 120): NoteEvent[] {
    return parseNotes(notes, checkNumber('tempo', tempo, 10, 1000), {
      minPitch: this.pitchRange[0],
      maxPitch: this.pitchRange[1],
      maxNoteSeconds: 10,
      maxTotalSeconds: 600,
      maxNotes: 1024,
    })
  }

  async generate(options: MusicGenerateOptions): Promise<AudioClip> {
    if (options === null || typeof options !== 'object') throw invalidArgument('options', 'an object with "notes"', options)
    const instrument = this.instrumentId(options.instrument)
    const tempo = options.tempo ?? 120
    const events = this.notes(options.notes, tempo)
    const iterations = checkInteger('griffinLimIterations', options.griffinLimIterations ?? 32, 1, 1000)
    const run = resolveRun(this.mel.model, options)
    // one image per distinct pitch: repeated notes reuse it (as a player repeats a note)
    const pitches = [...new Set(events.map((e) => e.pitch))]
    const images = await this.mel.generateImages(
      pitches.map((p) => [p - this.pitchRange[0], instrument]),
      run,
      { ...(options.signal ? { signal: options.signal } : {}), ...(options.onProgress ? { onProgress: options.onProgress } : {}) },
    )
    const rep = this.mel.representation
    const rate = rep.sampleRate
    const onset = this.layout.onsetFrame * rep.hopLength
    const pieces: { samples: Float32Array; at: number }[] = []
    const rendered = new Map<string, Float32Array>()
    for (const e of events) {
      const held = this.layout.onsetFrame + Math.max(1, Math.round((e.duration * rate) / rep.hopLength))
      const key = `${e.pitch}/${held}`
      let audio = rendered.get(key)
      if (!audio) {
        const { image } = retimeNote(images[pitches.indexOf(e.pitch)]!, rep.nMels, this.layout, held)
        const wave = await this.mel.imageToAudio(image, { iterations, seed: run.seed % 2 ** 31, ...(options.signal ? { signal: options.signal } : {}) })
        audio = fadeEdges(normalisePeak(wave.slice(onset), 0.35), Math.round(rate * 0.003))
        rendered.set(key, audio)
      }
      pieces.push({ samples: audio, at: Math.round(e.start * rate) })
    }
    const samples = mixAt(pieces)
    let peak = 0
    for (let i = 0; i < samples.length; i++) peak = Math.max(peak, Math.abs(samples[i]!))
    if (peak > 0.95) normalisePeak(samples, 0.95)
    const inputs = { notes: options.notes, instrument: this.instruments[instrument], tempo, griffinLimIterations: iterations }
    const record = makeRecord(this.mel.model, 'audio', inputs as Record<string, unknown>, run)
    const segments = events.map((e) => ({ label: noteName(e.pitch), start: e.start, end: e.start + e.duration }))
    return new AudioClip(samples, rate, record, segments)
  }

  async dispose(): Promise<void> {
    await this.mel.dispose()
  }
}
