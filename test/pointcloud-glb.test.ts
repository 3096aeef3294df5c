import t from 'tap'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PointCloud, encodeGlb, srgbToLinear } from '../modalities/pointcloud/index.js'

// GLB read back by hand from the glTF 2.0 container layout (12-byte header, JSON chunk, BIN chunk),
// independent of three.js.
interface Gltf {
  meshes: { primitives: { mode?: number; attributes: Record<string, number> }[] }[]
  accessors: { bufferView: number; byteOffset?: number; componentType: number; count: number; type: string; min?: number[]; max?: number[] }[]
  bufferViews: { buffer: number; byteOffset?: number; byteLength: number; byteStride?: number }[]
  buffers: { byteLength: number }[]
}

function readGlb(bytes: Uint8Array): { json: Gltf; bin: Buffer } {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (b.toString('ascii', 0, 4) !== 'glTF') throw new Error('no glTF magic')
  if (b.readUInt32LE(4) !== 2) throw new Error('not glTF 2')
  if (b.readUInt32LE(8) !== b.length) throw new Error('length field differs from the file length')
  const jsonLen = b.readUInt32LE(12)
  if (b.readUInt32LE(16) !== 0x4e4f534a) throw new Error('first chunk is not JSON')
  const json = JSON.parse(b.toString('utf8', 20, 20 + jsonLen)) as Gltf
  const o = 20 + jsonLen
  const binLen = b.readUInt32LE(o)
  if (b.readUInt32LE(o + 4) !== 0x004e4942) throw new Error('second chunk is not BIN')
  return { json, bin: b.subarray(o + 8, o + 8 + binLen) }
}

function accessorFloats(g: { json: Gltf; bin: Buffer }, index: number): Float32Array {
  const acc = g.json.accessors[index]!
  const view = g.json.bufferViews[acc.bufferView]!
  const comps = acc.type === 'VEC3' ? 3 : acc.type === 'VEC4' ? 4 : 1
  const stride = view.byteStride ?? comps * 4
  const out = new Float32Array(acc.count * comps)
  for (let i = 0; i < acc.count; i++) {
    for (let k = 0; k < comps; k++) out[i * comps + k] = g.bin.readFloatLE((view.byteOffset ?? 0) + (acc.byteOffset ?? 0) + i * stride + 4 * k)
  }
  return out
}

t.test('GLB: one POINTS primitive with POSITION and linear COLOR_0', async (t) => {
  const n = 500
  const positions = new Float32Array(3 * n)
  const colors = new Float32Array(3 * n)
  for (let i = 0; i < 3 * n; i++) {
    positions[i] = Math.sin(i * 1.7) * 0.9
    colors[i] = (i % 97) / 96
  }
  const g = readGlb(await encodeGlb(positions, colors))
  t.equal(g.json.meshes.length, 1)
  const prim = g.json.meshes[0]!.primitives[0]!
  t.equal(prim.mode, 0, 'mode 0 = POINTS')
  t.ok('POSITION' in prim.attributes && 'COLOR_0' in prim.attributes)
  const pos = g.json.accessors[prim.attributes.POSITION!]!
  t.equal(pos.count, n)
  t.equal(pos.componentType, 5126, 'float32')
  t.equal(pos.type, 'VEC3')
  for (let k = 0; k < 3; k++) {
    let lo = Infinity
    let hi = -Infinity
    for (let i = 0; i < n; i++) { lo = Math.min(lo, positions[3 * i + k]!); hi = Math.max(hi, positions[3 * i + k]!) }
    t.equal(pos.min![k], lo, `min ${k}`)
    t.equal(pos.max![k], hi, `max ${k}`)
  }
  t.same(Array.from(accessorFloats(g, prim.attributes.POSITION!)), Array.from(positions), 'positions in the BIN chunk')
  const col = accessorFloats(g, prim.attributes.COLOR_0!)
  t.equal(g.json.accessors[prim.attributes.COLOR_0!]!.count, n)
  let worst = 0
  for (let i = 0; i < 3 * n; i++) worst = Math.max(worst, Math.abs(col[i]! - srgbToLinear(colors[i]!)))
  t.ok(worst < 1e-6, `COLOR_0 = sRGB→linear of the colours (max error ${worst})`)
  t.equal((globalThis as { FileReader?: unknown }).FileReader, undefined, 'the FileReader shim is gone after the export')
})

t.test('GLB without colours, save(.glb), concurrent exports, bad input', async (t) => {
  const positions = Float32Array.of(0, 0, 0, 1, 2, 3)
  const g = readGlb(await encodeGlb(positions, undefined))
  t.notOk('COLOR_0' in g.json.meshes[0]!.primitives[0]!.attributes)
  const dir = mkdtempSync(join(tmpdir(), 'dk-glb-'))
  const cloud = new PointCloud(positions, Float32Array.of(1, 0, 0, 0, 1, 0))
  await cloud.save(join(dir, 'c.glb'))
  t.equal(readGlb(readFileSync(join(dir, 'c.glb'))).json.accessors[0]!.count, 2)
  const many = await Promise.all([1, 2, 3, 4].map((k) => encodeGlb(new Float32Array(3 * k).fill(k), undefined)))
  t.same(many.map((b) => readGlb(b).json.accessors[0]!.count), [1, 2, 3, 4])
  t.equal((globalThis as { FileReader?: unknown }).FileReader, undefined)
  await t.rejects(encodeGlb(new Float32Array(0), undefined), { code: 'INVALID_ARGUMENT' })
  await t.rejects(encodeGlb(new Float32Array(4), undefined), { code: 'INVALID_ARGUMENT' })
  await t.rejects(encodeGlb(new Float32Array(3), new Float32Array(1)), { code: 'INVALID_ARGUMENT' })
})
