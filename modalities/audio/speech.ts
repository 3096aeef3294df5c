import { DiffuseError, invalidArgument } from '../../src/errors.js'
import type { ModelFolder } from '../../src/runtime/model-folder.js'
import { makeRecord, resolveRun, type CommonGenerateOptions, type PipelineOptions } from '../../src/runtime/pipeline.js'
import { checkInteger, checkNumber } from '../../src/validate.js'
import { activeRange, fadeEdges, joinWithGaps, normalisePeak } from './assemble.js'
import { AudioClip } from './clip.js'
import { MelDiffusionModel } from './mel-model.js'

export interface SpeechGenerateOptions extends CommonGenerateOptions {
  /** words of the model's vocabulary; case and punctuation are ignored, digits are read one by one */
  text: string
  /** a voice id (0-based) or its name (see `voices`); default 0 */
  voice?: number | string
  /** silence between words in seconds (default 0.12) */
  gap?: number
  /** Griffin-Lim iterations (default 32) */
  griffinLimIterations?: number
}

const MAX_WORDS = 256
const DIGITS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine']

function stringList(v: unknown, what: string, root: string): string[] {
  if (!Array.isArray(v) || v.length === 0 || v.some((s) => typeof s !== 'string')) {
    throw new DiffuseError('INVALID_CONFIG', `${root}/diffusekit.json: "${what}" must be a non-empty list of strings`)
  }
  return v as string[]
}

/**
 * Splits text into lower-case words: anything but letters, digits and apostrophes separates words,
 * and a run of digits is read digit by digit ("731" → seven three one), as codes are spoken.
 */
export function splitWords(text: string): string[] {
  const words: string[] = []
  for (const token of text.toLowerCase().split(/[^\p{L}\p{N}']+/u)) {
    const t = token.replace(/^'+|'+$/g, '')
    if (t === '') continue
    if (/^[0-9]+$/.test(t)) for (const d of t) words.push(DIGITS[Number(d)]!)
    else words.push(t)
  }
  return words
}

/** Text → speech with the bundled word-level model: one generated mel image per word. */
export class SpeechPipeline {
  readonly kind = 'speech' as const
  readonly vocabulary: readonly string[]
  readonly voices: readonly string[]
  private readonly mel: MelDiffusionModel

  private constructor(mel: MelDiffusionModel, vocabulary: string[], voices: string[]) {
    this.mel = mel
    this.vocabulary = vocabulary
    this.voices = voices
  }

  static async load(model: ModelFolder, options: PipelineOptions = {}): Promise<SpeechPipeline> {
    const vocabulary = stringList(model.config.words, 'words', model.root)
    const voices = stringList(model.config.voices, 'voices', model.root)
    const mel = await MelDiffusionModel.load(
      model,
      [
        { name: 'word', size: vocabulary.length },
        { name: 'voice', size: voices.length },
      ],
      options,
    )
    return new SpeechPipeline(mel, vocabulary, voices)
  }

  get model(): ModelFolder {
    return this.mel.model
  }

  get sampleRate(): number {
    return this.mel.representation.sampleRate
  }

  private voiceId(voice: unknown): number {
    if (voice === undefined) return 0
    if (typeof voice === 'string') {
      const i = this.voices.indexOf(voice)
      if (i < 0) {
        throw new DiffuseError('UNKNOWN_CLASS', `Unknown voice "${voice}"; voices are 0-${this.voices.length - 1} or: ${this.voices.join(', ')}`, {
          details: { voices: [...this.voices] },
        })
      }
      return i
    }
    if (typeof voice !== 'number' || !Number.isInteger(voice) || voice < 0 || voice >= this.voices.length) {
      throw invalidArgument('voice', `an integer 0-${this.voices.length - 1} or a voice name`, voice)
    }
    return voice
  }

  /** The text's words as vocabulary ids; UNKNOWN_WORD (listing the vocabulary) for any other word. */
  wordIds(text: unknown): { words: string[]; ids: number[] } {
    if (typeof text !== 'string') throw invalidArgument('text', 'a string of words', text)
    const words = splitWords(text)
    if (words.length === 0) throw invalidArgument('text', 'at least one word', text)
    if (words.length > MAX_WORDS) throw invalidArgument('text', `at most ${MAX_WORDS} words`, `${words.length} words`)
    const unknown = [...new Set(words.filter((w) => !this.vocabulary.includes(w)))]
    if (unknown.length > 0) {
      throw new DiffuseError(
        'UNKNOWN_WORD',
        `The speech model cannot say ${unknown.map((w) => `"${w}"`).join(', ')}; it knows these ${this.vocabulary.length} words: ${this.vocabulary.join(', ')}`,
        { details: { unknown, vocabulary: [...this.vocabulary] } },
      )
    }
    return { words, ids: words.map((w) => this.vocabulary.indexOf(w)) }
  }

  async generate(options: SpeechGenerateOptions): Promise<AudioClip> {
    if (options === null || typeof options !== 'object') throw invalidArgument('options', 'an object with "text"', options)
    const { words, ids } = this.wordIds(options.text)
    const voice = this.voiceId(options.voice)
    const gap = checkNumber('gap', options.gap ?? 0.12, 0, 5)
    const iterations = checkInteger('griffinLimIterations', options.griffinLimIterations ?? 32, 1, 1000)
    const run = resolveRun(this.mel.model, options)
    const images = await this.mel.generateImages(
      ids.map((w) => [w, voice]),
      run,
      { ...(options.signal ? { signal: options.signal } : {}), ...(options.onProgress ? { onProgress: options.onProgress } : {}) },
    )
    const rate = this.sampleRate
    const pieces: Float32Array[] = []
    for (const image of images) {
      const audio = await this.mel.imageToAudio(image, { iterations, seed: run.seed % 2 ** 31, ...(options.signal ? { signal: options.signal } : {}) })
      const [a, b] = activeRange(audio, this.mel.representation.hopLength)
      pieces.push(fadeEdges(normalisePeak(audio.slice(a, Math.max(b, a + 1)), 0.6), Math.round(rate * 0.005)))
    }
    const { samples, starts } = joinWithGaps(pieces, Math.round(gap * rate), Math.round(0.1 * rate))
    const record = makeRecord(this.mel.model, 'audio', { text: options.text, voice, gap, griffinLimIterations: iterations }, run)
    const segments = words.map((w, i) => ({ label: w, start: starts[i]! / rate, end: (starts[i]! + pieces[i]!.length) / rate }))
    return new AudioClip(samples, rate, record, segments)
  }

  async dispose(): Promise<void> {
    await this.mel.dispose()
  }
}
