import type { Command } from 'commander'
import { DiffuseError } from '../../src/errors.js'
import type { DeviceRequest } from '../../src/native/kernels.js'
import { loadPipeline } from '../../modalities/audio/pipeline.js'
import { action, addCommonOptions, cliSignal, commonFromCli, createProgress, report, type CliCommonOptions } from '../shared.js'

interface SpeakOptions extends CliCommonOptions {
  output: string
  voice?: string
  model: string
  gap?: string
  listWords?: boolean
}

/** A voice given on the command line: an id ("2") or a voice name ("en-gb+m3"). */
function parseVoice(v: string | undefined): number | string | undefined {
  if (v === undefined) return undefined
  return /^\d+$/.test(v) ? Number(v) : v
}

export function register(program: Command): void {
  const cmd = program
    .command('speak')
    .description('speak text with the bundled word-level speech model (see --list-words) and write a WAV file')
    .argument('[text...]', 'words to speak, e.g. "seven three one"')
    .option('-o, --output <file.wav>', 'output WAV file', 'speech.wav')
    .option('--voice <id|name>', 'voice id (0-9) or espeak-ng voice name of the training data', '0')
    .option('--gap <seconds>', 'silence between words')
    .option('--model <name|path>', 'bundled model name or model folder', 'speech')
    .option('--list-words', 'print the vocabulary and the voices, and exit')
  addCommonOptions(cmd).action(
    action(async (words: string[], o: SpeakOptions) => {
      const tts = await loadPipeline(o.model, { device: (o.device ?? 'auto') as DeviceRequest })
      try {
        if (tts.kind !== 'speech') throw new DiffuseError('UNSUPPORTED', `${o.model} is a ${tts.kind} model, not a speech model`)
        if (o.listWords) {
          process.stdout.write(`words: ${tts.vocabulary.join(' ')}\nvoices: ${tts.voices.map((v, i) => `${i}=${v}`).join(' ')}\n`)
          return
        }
        const common = await commonFromCli(o)
        const text = words.length > 0 ? words.join(' ') : (common.text as string | undefined)
        const gap = o.gap === undefined ? (common.gap as number | undefined) : Number(o.gap)
        const progress = createProgress('speaking', o.quiet)
        const signal = cliSignal()
        const clip = await tts.generate({
          ...common,
          text: text ?? '',
          voice: parseVoice(o.voice) ?? (common.voice as number | undefined),
          ...(gap !== undefined ? { gap } : {}),
          onProgress: progress.onProgress,
          ...(signal ? { signal } : {}),
        })
        progress.stop()
        await clip.save(o.output)
        report(o.json, [o.output], clip.record, { duration: clip.duration, words: clip.segments })
      } finally {
        await tts.dispose()
      }
    }),
  )
}
