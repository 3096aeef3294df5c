/**
 * Writes BENCHMARKS.md at the repository root: bench/BENCHMARKS.head.md (how to run, the targets of
 * issue 8 and where each stands), then every bench/results/*.md section as its bench left it (each keeps
 * its own machine, date and command), known sections first in a fixed order, any new ones after them.
 *   npx tsx bench/merge-benchmarks.ts
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const results = join(root, 'bench', 'results')
const ORDER = ['end-to-end.md', 'kernels.md', 'samplers.md', 'rng.md', 'audio-dsp.md', 'audio-quality.md', 'image.md', 'shapes.md']

const files = readdirSync(results).filter((f) => f.endsWith('.md'))
const ordered = [...ORDER.filter((f) => files.includes(f)), ...files.filter((f) => !ORDER.includes(f)).sort()]
const parts = [readFileSync(join(root, 'bench', 'BENCHMARKS.head.md'), 'utf8').trimEnd()]
for (const f of ordered) {
  const text = readFileSync(join(results, f), 'utf8')
    .trimEnd()
    // images referenced relative to bench/results/ stay reachable from the root
    .replace(/\]\((?!https?:|\/|bench\/)([^)]+\.(?:png|jpg|svg))\)/g, '](bench/results/$1)')
  parts.push(`<!-- from bench/results/${f} -->\n${text}`)
}
const out = parts.join('\n\n---\n\n') + '\n'
writeFileSync(join(root, 'BENCHMARKS.md'), out)
console.log(`BENCHMARKS.md: ${ordered.length} sections (${ordered.join(', ')})${existsSync(join(root, 'BENCHMARKS.md')) ? '' : ''}`)
