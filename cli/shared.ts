import cliProgress from 'cli-progress'
import type { Command } from 'commander'
import { readFile } from 'node:fs/promises'
import { DiffuseError, type DiffuseErrorCode } from '../src/errors.js'
import type { StepProgress } from '../src/core/loop.js'
import type { GenerationRecord } from '../src/runtime/pipeline.js'

/** Options every generating command takes. */
export interface CliCommonOptions {
  seed?: string
  steps?: string
  sampler?: string
  guidance?: string
  device?: string
  json?: boolean
  quiet?: boolean
  replay?: string
}

/** Adds --seed --steps --sampler --guidance --device --json --quiet --replay to a command. */
export function addCommonOptions(cmd: Command): Command {
  return cmd
    .option('--seed <n>', 'random seed (default: random; printed so the result can be reproduced)')
    .option('--steps <n>', 'inference steps (default: the model\'s)')
    .option('--sampler <name>', 'sampler: DDIM, DDPM, "Euler a", "DPM++ 2M Karras", ... (see `diffusekit models`)')
    .option('--guidance <w>', 'classifier-free guidance scale')
    .option('--device <device>', 'cpu | cuda | auto', 'auto')
    .option('--json', 'print a machine-readable result (files + reproduction record) on stdout')
    .option('-q, --quiet', 'no progress bar')
    .option('--replay <record.json>', 'reproduce a result from its record (the "record" of --json output)')
}

function parseNumber(name: string, v: string | undefined, integer: boolean): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (v.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new DiffuseError('INVALID_ARGUMENT', `--${name} expects ${integer ? 'an integer' : 'a number'}, got "${v}"`)
  }
  return n
}

/** The generate() options the common flags stand for (a --replay record first, flags override it). */
export async function commonFromCli(o: CliCommonOptions): Promise<Record<string, unknown>> {
  let base: Record<string, unknown> = {}
  if (o.replay) {
    const { optionsFromRecord } = await import('../src/runtime/pipeline.js')
    let raw: unknown
    try {
      raw = JSON.parse(await readFile(o.replay, 'utf8'))
    } catch (e) {
      throw new DiffuseError('FILE_FORMAT', `Cannot read the record ${o.replay}: ${(e as Error).message}`)
    }
    const rec = (raw as { record?: unknown }).record ?? raw
    base = optionsFromRecord(rec)
  }
  const out: Record<string, unknown> = { ...base }
  const seed = parseNumber('seed', o.seed, true)
  const steps = parseNumber('steps', o.steps, true)
  const guidance = parseNumber('guidance', o.guidance, false)
  if (seed !== undefined) out.seed = seed
  if (steps !== undefined) out.steps = steps
  if (guidance !== undefined) out.guidance = guidance
  if (o.sampler !== undefined) out.sampler = o.sampler
  return out
}

/** A progress bar on stderr when it is a terminal and not --quiet; silent otherwise. */
export function createProgress(label: string, quiet = false): { onProgress: (p: StepProgress) => void; setLabel(l: string): void; stop(): void } {
  const enabled = !quiet && process.stderr.isTTY === true
  let bar: cliProgress.SingleBar | null = null
  let current = label
  return {
    onProgress(p) {
      if (!enabled) return
      if (!bar) {
        bar = new cliProgress.SingleBar(
          { stream: process.stderr, format: '{label} [{bar}] {value}/{total} steps', hideCursor: true, clearOnComplete: false },
          cliProgress.Presets.shades_classic,
        )
        bar.start(p.total, 0, { label: current })
      }
      bar.setTotal(p.total)
      bar.update(p.step, { label: current })
      if (p.step >= p.total) {
        bar.stop()
        bar = null
      }
    },
    setLabel(l) {
      current = l
    },
    stop() {
      bar?.stop()
      bar = null
    },
  }
}

/** Exit codes scripts can rely on. */
export const EXIT = { ok: 0, failure: 1, usage: 2, input: 3, model: 4, aborted: 130 } as const

export function exitCodeFor(code: DiffuseErrorCode): number {
  switch (code) {
    case 'INVALID_ARGUMENT':
    case 'INVALID_CONFIG':
    case 'UNKNOWN_SAMPLER':
    case 'UNKNOWN_MODEL':
    case 'UNKNOWN_WORD':
    case 'UNKNOWN_CLASS':
      return EXIT.usage
    case 'FILE_NOT_FOUND':
    case 'FILE_FORMAT':
    case 'IO':
      return EXIT.input
    case 'MODEL_LOAD':
    case 'MODEL_IO':
    case 'SHAPE_MISMATCH':
    case 'NON_FINITE':
      return EXIT.model
    case 'ABORTED':
      return EXIT.aborted
    default:
      return EXIT.failure
  }
}

/** Runs a command's action: DiffuseErrors become one line on stderr and a stable exit code. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const controller = new AbortController()
    const onSigint = () => controller.abort(new Error('interrupted'))
    process.once('SIGINT', onSigint)
    currentSignal = controller.signal
    try {
      await fn(...args)
    } catch (e) {
      if (e instanceof DiffuseError) {
        process.stderr.write(`diffusekit: ${e.message} [${e.code}]\n`)
        process.exitCode = exitCodeFor(e.code)
      } else {
        process.stderr.write(`diffusekit: unexpected error: ${(e as Error)?.stack ?? String(e)}\n`)
        process.exitCode = EXIT.failure
      }
    } finally {
      process.off('SIGINT', onSigint)
    }
  }
}

let currentSignal: AbortSignal | undefined
/** The AbortSignal that Ctrl-C fires for the running command. */
export function cliSignal(): AbortSignal | undefined {
  return currentSignal
}

/** Prints a command's result: a human line, or with --json one JSON object on stdout. */
export function report(json: boolean | undefined, files: string[], record: GenerationRecord | GenerationRecord[] | undefined, extra: Record<string, unknown> = {}): void {
  if (json) {
    process.stdout.write(JSON.stringify({ files, record, ...extra }, null, 2) + '\n')
    return
  }
  for (const f of files) process.stdout.write(`wrote ${f}\n`)
  const first = Array.isArray(record) ? record[0] : record
  if (first) process.stdout.write(`seed ${first.generator.seed} (${first.generator.kind}), ${first.steps} steps\n`)
}
