import type { GenerationRecord } from '../../src/runtime/pipeline.js'
import { encodeWav, writeWav, type AudioData, type EncodeWavOptions } from './wav.js'

/** One generated piece of mono audio, with what reproduces it. */
export class AudioClip {
  /** mono samples, nominally in [−1, 1] */
  readonly samples: Float32Array
  readonly sampleRate: number
  /** pass to the pipeline's generate() (or `--replay`) to get the same audio again */
  readonly record: GenerationRecord
  /** per-part timing: which word / note sits where (seconds) */
  readonly segments: readonly { label: string; start: number; end: number }[]

  constructor(samples: Float32Array, sampleRate: number, record: GenerationRecord, segments: readonly { label: string; start: number; end: number }[] = []) {
    this.samples = samples
    this.sampleRate = sampleRate
    this.record = record
    this.segments = segments
  }

  get duration(): number {
    return this.samples.length / this.sampleRate
  }

  toAudioData(): AudioData {
    return { sampleRate: this.sampleRate, channels: [this.samples] }
  }

  /** WAV bytes: 16-bit PCM by default, or 32-bit float. */
  toWav(opts: EncodeWavOptions = {}): Uint8Array {
    return encodeWav(this.toAudioData(), opts)
  }

  /** Writes a .wav file (atomically: a complete new file or none). */
  async save(path: string, opts: EncodeWavOptions = {}): Promise<void> {
    await writeWav(path, this.toAudioData(), opts)
  }
}
