/**
 * Soak: `node --expose-gc --import tsx scripts/soak.ts [--model speech] [--generations 1000] [--steps 2]
 *        [--dispose-cycles 30] [--cancel-runs 100]`
 * 1000 consecutive generations with a bundled model in one process, resident memory every 50, then
 * load/generate/dispose cycles and aborted generations. Prints the samples and a JSON summary (the last
 * line); RELIABILITY.md records the figures. Run with --expose-gc so samples measure retained memory.
 */
import { runSoak } from '../test/helpers/soak.js'

const argv = process.argv.slice(2)
const get = (k: string, d: string): string => {
  const i = argv.indexOf(`--${k}`)
  return i >= 0 ? argv[i + 1]! : d
}
const generations = Number(get('generations', '1000'))
const result = await runSoak({
  ...(argv.includes('--model') ? { model: get('model', '') } : {}),
  generations,
  steps: Number(get('steps', '2')),
  every: Number(get('every', '50')),
  warmup: Number(get('warmup', '50')),
  disposeCycles: Number(get('dispose-cycles', '30')),
  cancelRuns: Number(get('cancel-runs', '100')),
  log: (l) => console.log(l),
})
if (!(globalThis as { gc?: unknown }).gc) console.log('note: run with node --expose-gc for GC-settled samples')
console.log(JSON.stringify(result))
