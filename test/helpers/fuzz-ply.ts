/**
 * The PLY fuzz target (kept apart from fuzz-targets.ts so that file does not depend on the point-cloud
 * modality). Seeds: encodePly's ascii and binary files, with and without colours (uchar and float),
 * plus hand-written big-endian, extra-property and face-element files.
 */
import { GarbageResult, mutateBytes, pick, splice, textBytes, type Files, type Rng } from './fuzz.js'
import type { FuzzTarget } from './fuzz-targets.js'

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const o = new Uint8Array(a.length + b.length)
  o.set(a)
  o.set(b, a.length)
  return o
}

export async function plySeeds(): Promise<Files[]> {
  const { encodePly } = await import('../../modalities/pointcloud/ply.js')
  const pos = Float32Array.from({ length: 12 }, (_, i) => Math.sin(i) * 2)
  const col = Float32Array.from({ length: 12 }, (_, i) => (i % 5) / 4)
  const seeds: Files[] = [
    { 'in.ply': encodePly(pos, undefined, { format: 'ascii' }) },
    { 'in.ply': encodePly(pos, col, { format: 'ascii' }) },
    { 'in.ply': encodePly(pos, undefined) },
    { 'in.ply': encodePly(pos, col) },
    { 'in.ply': encodePly(pos, col, { colorType: 'float' }) },
  ]
  // big-endian doubles with an extra property and a face element after the vertices
  const head = textBytes('ply\nformat binary_big_endian 1.0\nelement vertex 2\nproperty double x\nproperty double y\nproperty double z\nproperty uchar alpha\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n')
  const body = new Uint8Array(2 * 25 + 1 + 12)
  const v = new DataView(body.buffer)
  for (let i = 0; i < 6; i++) v.setFloat64(Math.floor(i / 3) * 25 + (i % 3) * 8, i * 0.5, false)
  body[24] = 255
  body[49] = 7
  body[50] = 3
  v.setInt32(51, 0, false)
  v.setInt32(55, 1, false)
  v.setInt32(59, 1, false)
  seeds.push({ 'in.ply': concat(head, body) })
  seeds.push({ 'in.ply': textBytes('ply\r\nformat ascii 1.0\r\ncomment x\r\nelement vertex 2\r\nproperty float x\r\nproperty float y\r\nproperty float z\r\nproperty float nx\r\nend_header\r\n1 2 3 0\r\n4 5 6 1\r\n') })
  return seeds
}

let seedCache: Files[] | undefined

export const plyTarget: FuzzTarget = {
  name: 'ply',
  coverage: ['modalities/pointcloud/ply.ts'],
  seeds: () => seedCache ?? [],
  mutate(input: Files, r: Rng, corpus: readonly Files[]): Files {
    const b = input['in.ply'] ?? new Uint8Array(0)
    if (r() < 0.05 && corpus.length) return { 'in.ply': splice(b, pick(r, corpus)['in.ply'] ?? new Uint8Array(0), r) }
    // header edits half of the time: the header is where counts, types and formats are declared
    const end = Math.max(0, new TextDecoder().decode(b).indexOf('end_header'))
    if (r() < 0.5 && end > 0) return { 'in.ply': concat(mutateBytes(b.subarray(0, end), r, 3), b.subarray(end)) }
    return { 'in.ply': mutateBytes(b, r) }
  },
  async run(input: Files) {
    const { parsePly } = await import('../../modalities/pointcloud/ply.js')
    const ply = parsePly(input['in.ply']!)
    if (!Number.isInteger(ply.count) || ply.count < 0) throw new GarbageResult(`count ${ply.count}`)
    if (ply.positions.length !== 3 * ply.count) throw new GarbageResult(`${ply.positions.length} position values for ${ply.count} points`)
    if (ply.colors && ply.colors.length !== 3 * ply.count) throw new GarbageResult(`${ply.colors.length} colour values for ${ply.count} points`)
    for (const x of ply.positions) if (!Number.isFinite(x)) throw new GarbageResult(`non-finite coordinate ${x} returned without an error`)
    if (ply.colors) for (const c of ply.colors) if (!(c >= 0 && c <= 1)) throw new GarbageResult(`colour ${c} outside [0, 1]`)
  },
}

/** Loads the seeds (they come from the SDK's own encoder, imported lazily) and registers the target. */
export async function registerPly(targets: Record<string, FuzzTarget>): Promise<void> {
  seedCache = await plySeeds()
  targets.ply = plyTarget
}
