import t from 'tap'
import { existsSync } from 'node:fs'
import { runCases } from './helpers/fuzz-run.js'
import { textBytes } from './helpers/fuzz.js'

// Generative fuzz of the PLY reader: ascii / binary little- and big-endian, colours as uchar or float,
// extra properties and elements; mutated mostly in the header (counts, types, formats).
// (The point-cloud modality may be absent from a checkout of an earlier stage: then nothing to fuzz.)

if (!existsSync(new URL('../modalities/pointcloud/ply.ts', import.meta.url))) t.pass('modalities/pointcloud/ply.ts not present')
else await fuzzPly()

async function fuzzPly(): Promise<void> {
const { parsePly } = await import('../modalities/pointcloud/ply.js')
const { plySeeds, plyTarget, registerPly } = await import('./helpers/fuzz-ply.js')
await registerPly({})

t.test('seed files parse to the coordinates written', async (t) => {
  const seeds = await plySeeds()
  for (const s of seeds.slice(0, 5)) {
    const p = parsePly(s['in.ply']!)
    t.equal(p.count, 4)
    for (let i = 0; i < 12; i++) t.ok(Math.abs(p.positions[i]! - Math.fround(Math.sin(i) * 2)) < 1e-6, `seed coordinate ${i}`)
  }
  const be = parsePly(seeds[5]!['in.ply']!)
  t.same(Array.from(be.positions), [0, 0.5, 1, 1.5, 2, 2.5], 'big-endian doubles, extra property and face element skipped')
})

t.test('3000 mutated PLY files: only FILE_FORMAT refusals or well-formed clouds', async (t) => {
  const tally = await runCases(plyTarget, 0x5eed07, 3000)
  t.same(tally.failures, [], 'no non-DiffuseError exception, no garbage')
  t.ok(tally.ok > 100, `${tally.ok} accepted`)
  t.ok((tally.refused.FILE_FORMAT ?? 0) > 300, `refusals: ${JSON.stringify(tally.refused)}`)
})

t.test('a header that declares far more vertices than the file holds is refused without a big allocation', async (t) => {
  const head = 'ply\nformat binary_little_endian 1.0\nelement vertex 4000000000\nproperty float x\nproperty float y\nproperty float z\nend_header\n'
  t.throws(() => parsePly(textBytes(head + 'abcdefghijkl')), { name: 'DiffuseError', code: 'FILE_FORMAT' })
  t.throws(() => parsePly(textBytes('ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\nend_header\n1 2 3\n')), { code: 'FILE_FORMAT' })
  t.throws(() => parsePly(textBytes('not a ply')), { code: 'FILE_FORMAT' })
})

t.test('found by the fuzzer: float64 coordinates beyond float32, and float colours outside [0, 1] or NaN', async (t) => {
  const head = (props: string): string => `ply\nformat ascii 1.0\nelement vertex 1\nproperty double x\nproperty double y\nproperty double z\n${props}end_header\n`
  t.throws(() => parsePly(textBytes(head('') + '1e300 0 0\n')), { code: 'FILE_FORMAT', message: /non-finite coordinate/ })
  t.throws(() => parsePly(textBytes(head('') + 'nan 0 0\n')), { code: 'FILE_FORMAT', message: /non-finite coordinate/ })
  const colours = 'property float red\nproperty float green\nproperty float blue\n'
  const p = parsePly(textBytes(head(colours) + '1 2 3 2.68 -0.5 0.25\n'))
  t.same(Array.from(p.colors!), [1, 0, 0.25], 'clamped to [0, 1]')
  t.throws(() => parsePly(textBytes(head(colours) + '1 2 3 nan 0 0\n')), { code: 'FILE_FORMAT', message: /non-finite colour/ })
})
}
