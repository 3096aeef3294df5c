import type { Command } from 'commander'
import { DiffuseError } from '../../src/errors.js'
import type { DeviceRequest } from '../../src/native/kernels.js'
import { loadPipeline } from '../../modalities/audio/pipeline.js'
import { action, addCommonOptions, cliSignal, commonFromCli, createProgress, report, type CliCommonOptions } from '../shared.js'

interface MusicOptions extends CliCommonOptions {
  output: string
  notes?: string
  instrument?: string
  tempo?: string
  model: string
  listInstruments?: boolean
}

export function register(program: Command): void {
  const cmd = program
    .command('music')
    .description('play notes with the bundled single-note music model and write a WAV file')
    .option('-n, --notes <notes>', 'notes: "C4 E4 G4 C5", chords "C4+E4+G4", durations in beats "C4:2", rests "r"')
    .option('-i, --instrument <name>', 'instrument (see --list-instruments)')
    .option('--tempo <bpm>', 'beats per minute (default 120)')
    .option('-o, --output <file.wav>', 'output WAV file', 'music.wav')
    .option('--model <name|path>', 'bundled model name or model folder', 'music')
    .option('--list-instruments', 'print the instruments and the pitch range, and exit')
  addCommonOptions(cmd).action(
    action(async (o: MusicOptions) => {
      const pipe = await loadPipeline(o.model, { device: (o.device ?? 'auto') as DeviceRequest })
      try {
        if (pipe.kind !== 'music') throw new DiffuseError('UNSUPPORTED', `${o.model} is a ${pipe.kind} model, not a music model`)
        if (o.listInstruments) {
          process.stdout.write(`instruments: ${pipe.instruments.join(' ')}\npitch range: MIDI ${pipe.pitchRange[0]}-${pipe.pitchRange[1]}\n`)
          return
        }
        const common = await commonFromCli(o)
        const notes = o.notes ?? (common.notes as string | undefined)
        if (notes === undefined) throw new DiffuseError('INVALID_ARGUMENT', 'Give the notes to play with --notes, e.g. --notes "C4 E4 G4 C5"')
        let tempo = common.tempo as number | undefined
        if (o.tempo !== undefined) {
          tempo = Number(o.tempo)
          if (o.tempo.trim() === '' || !Number.isFinite(tempo)) throw new DiffuseError('INVALID_ARGUMENT', `--tempo expects a number, got "${o.tempo}"`)
        }
        const progress = createProgress('playing', o.quiet)
        const signal = cliSignal()
        const clip = await pipe.generate({
          ...common,
          notes,
          ...(o.instrument ?? common.instrument ? { instrument: (o.instrument ?? common.instrument) as string } : {}),
          ...(tempo !== undefined ? { tempo } : {}),
          onProgress: progress.onProgress,
          ...(signal ? { signal } : {}),
        })
        progress.stop()
        await clip.save(o.output)
        report(o.json, [o.output], clip.record, { duration: clip.duration })
      } finally {
        await pipe.dispose()
      }
    }),
  )
}
