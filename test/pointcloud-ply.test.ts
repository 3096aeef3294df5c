import t from 'tap'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ColorManagement } from 'three'
import { PLYLoader } from 'three/examples/jsm/loaders/PLYLoader.js'
import { DiffuseError } from '../src/errors.js'
import { PointCloud, encodePly, parsePly } from '../modalities/pointcloud/index.js'

// A cloud with awkward float32 values (tiny, huge, negative zero, many digits) and colours.
function sampleCloud(n = 257): { positions: Float32Array; colors: Float32Array } {
  const positions = new Float32Array(3 * n)
  const colors = new Float32Array(3 * n)
  for (let i = 0; i < 3 * n; i++) {
    positions[i] = Math.sin(i * 12.9898) * 10 ** ((i % 7) - 3)
    colors[i] = (Math.cos(i * 78.233) + 1) / 2
  }
  positions[0] = -0
  positions[1] = 3.4e38
  positions[2] = 1.4e-45
  return { positions, colors }
}

const quantised = (c: Float32Array): number[] => Array.from(c, (v) => Math.fround(Math.round(v * 255) / 255))

t.test('binary and ascii PLY read back identically (float colours exact, uchar colours to 1/255)', async (t) => {
  const { positions, colors } = sampleCloud()
  for (const format of ['binary_little_endian', 'ascii'] as const) {
    const f = parsePly(encodePly(positions, colors, { format, colorType: 'float' }))
    t.equal(f.format, format)
    t.same(Array.from(f.positions), Array.from(positions), `${format}: positions bit-exact`)
    t.same(Array.from(f.colors!), Array.from(colors), `${format}: float colours exact`)
    const u = parsePly(encodePly(positions, colors, { format }))
    t.same(Array.from(u.positions), Array.from(positions), `${format}: positions bit-exact (uchar colours)`)
    t.same(Array.from(u.colors!), quantised(colors), `${format}: uchar colours = round(255 c) / 255`)
  }
  const noColour = parsePly(encodePly(positions, undefined))
  t.equal(noColour.colors, undefined)
  t.equal(noColour.count, positions.length / 3)
})

t.test('PointCloud.save(.ply) and load(): atomic write, same points', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dk-ply-'))
  const { positions, colors } = sampleCloud(100)
  const cloud = new PointCloud(positions, colors)
  const file = join(dir, 'c.ply')
  await cloud.save(file, { colorType: 'float' })
  const back = await PointCloud.load(file)
  t.same(Array.from(back.positions), Array.from(positions))
  t.same(Array.from(back.colors!), Array.from(colors))
  await t.rejects(PointCloud.load(join(dir, 'missing.ply')), { code: 'FILE_NOT_FOUND' })
  await t.rejects(cloud.save(join(dir, 'c.obj')), { code: 'INVALID_ARGUMENT' })
  await t.rejects(cloud.save(join(dir, 'no-such-dir', 'c.ply')), { code: 'IO' })
})

t.test("three.js's PLYLoader reads our files with the same points", async (t) => {
  const { positions, colors } = sampleCloud(300)
  // PLYLoader turns sRGB colours into linear ones unless colour management is off
  const wasEnabled = ColorManagement.enabled
  ColorManagement.enabled = false
  try {
    for (const format of ['binary_little_endian', 'ascii'] as const) {
      const bytes = encodePly(positions, colors, { format })
      const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
      const geom = new PLYLoader().parse(format === 'ascii' ? new TextDecoder().decode(bytes) : (buf as ArrayBuffer))
      const pos = geom.getAttribute('position')
      t.equal(pos.count, 300, `${format}: point count`)
      t.same(Array.from(pos.array as Float32Array), Array.from(positions), `${format}: positions`)
      // uchar colours stay bytes in a normalized attribute (read as byte / 255)
      const col = geom.getAttribute('color')
      const read = Array.from(col.array, (v) => (col.normalized ? Math.fround(v / 255) : v))
      t.same(read, quantised(colors), `${format}: colours`)
    }
  } finally {
    ColorManagement.enabled = wasEnabled
  }
})

// Writers other than ours: files assembled by hand.
function header(lines: string[]): string {
  return ['ply', ...lines, 'end_header', ''].join('\n')
}

t.test('reads big-endian doubles, extra properties, comments and other elements', async (t) => {
  const head = header([
    'format binary_big_endian 1.0',
    'comment made by hand',
    'obj_info nothing',
    'element vertex 2',
    'property double x',
    'property float confidence',
    'property double y',
    'property double z',
    'property ushort red',
    'property ushort green',
    'property ushort blue',
    'element face 1',
    'property list uchar int vertex_indices',
  ])
  const body = Buffer.alloc(2 * (8 + 4 + 8 + 8 + 6) + 1 + 3 * 4)
  let o = 0
  const rows = [
    [1.5, 0.25, -2, 3, 0, 65535, 32768],
    [-7.125, 1, 1e-3, 4.5, 65535, 0, 1],
  ]
  for (const r of rows) {
    o = body.writeDoubleBE(r[0]!, o)
    o = body.writeFloatBE(r[1]!, o)
    o = body.writeDoubleBE(r[2]!, o)
    o = body.writeDoubleBE(r[3]!, o)
    o = body.writeUInt16BE(r[4]!, o)
    o = body.writeUInt16BE(r[5]!, o)
    o = body.writeUInt16BE(r[6]!, o)
  }
  o = body.writeUInt8(3, o)
  for (const k of [0, 1, 0]) o = body.writeInt32BE(k, o)
  const p = parsePly(Buffer.concat([Buffer.from(head, 'latin1'), body]))
  t.equal(p.format, 'binary_big_endian')
  t.same(Array.from(p.positions), [1.5, -2, 3, -7.125, Math.fround(1e-3), 4.5])
  t.same(Array.from(p.colors!), [0, 1, Math.fround(32768 / 65535), 1, 0, Math.fround(1 / 65535)])
  t.same(p.comments, ['made by hand', 'nothing'])

  const ascii = header(['format ascii 1.0', 'element vertex 2', 'property float x', 'property float y', 'property float z', 'property uchar r', 'property uchar g', 'property uchar b', 'property float extra', 'element edge 1', 'property int vertex1', 'property int vertex2']) +
    '0 1 2 255 0 51 9\r\n\n3 4 5 0 0 0 -1\n0 1\n'
  const a = parsePly(Buffer.from(ascii, 'latin1'))
  t.same(Array.from(a.positions), [0, 1, 2, 3, 4, 5])
  t.same(Array.from(a.colors!), [1, 0, Math.fround(51 / 255), 0, 0, 0])
})

t.test('malformed PLY files are FILE_FORMAT errors', async (t) => {
  const { positions, colors } = sampleCloud(10)
  const good = encodePly(positions, colors)
  const goodAscii = new TextDecoder().decode(encodePly(positions, colors, { format: 'ascii' }))
  const bad: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['not a PLY', Buffer.from('solid cube\nfacet normal 0 0 1\n')],
    ['binary truncated by one byte', good.subarray(0, good.length - 1)],
    ['header truncated', good.subarray(0, 40)],
    ['ascii missing a row', Buffer.from(goodAscii.split('\n').slice(0, -2).join('\n') + '\n')],
    ['ascii row with an extra value', Buffer.from(goodAscii.replace(/\n([^\n]*)\n$/, '\n$1 7\n'))],
    ['ascii non-number', Buffer.from(goodAscii.replace(/end_header\n[^ ]+/, 'end_header\nabc'))],
    ['unknown format', Buffer.from(header(['format binary_middle_endian 1.0', 'element vertex 0', 'property float x', 'property float y', 'property float z']))],
    ['no format line', Buffer.from(header(['element vertex 0', 'property float x', 'property float y', 'property float z']))],
    ['no x y z', Buffer.from(header(['format ascii 1.0', 'element vertex 1', 'property float u', 'property float v']) + '1 2\n')],
    ['no vertex element', Buffer.from(header(['format ascii 1.0', 'element face 0', 'property list uchar int vertex_indices']))],
    ['unknown type', Buffer.from(header(['format ascii 1.0', 'element vertex 1', 'property float128 x', 'property float y', 'property float z']) + '1 2 3\n')],
    ['negative count', Buffer.from(header(['format ascii 1.0', 'element vertex -1', 'property float x', 'property float y', 'property float z']))],
    ['property before element', Buffer.from(header(['format ascii 1.0', 'property float x']))],
    ['mixed colour types', Buffer.from(header(['format ascii 1.0', 'element vertex 1', 'property float x', 'property float y', 'property float z', 'property uchar red', 'property float green', 'property uchar blue']) + '1 2 3 4 5 6\n')],
    ['face list overruns the file', Buffer.concat([good, Buffer.from([])]).subarray(0, 0)],
    ['non-finite coordinate', Buffer.from(header(['format ascii 1.0', 'element vertex 1', 'property float x', 'property float y', 'property float z']) + 'nan 0 0\n')],
  ]
  // a binary face element whose list count runs past the end
  const faceHead = header(['format binary_little_endian 1.0', 'element vertex 1', 'property float x', 'property float y', 'property float z', 'element face 1', 'property list uchar int vertex_indices'])
  bad[15] = ['face list overruns the file', Buffer.concat([Buffer.from(faceHead), Buffer.alloc(12), Buffer.from([200, 0, 0, 0, 0])])]
  for (const [name, bytes] of bad) {
    let err: unknown = null
    try {
      parsePly(bytes, 'x.ply')
    } catch (e) {
      err = e
    }
    t.ok(err instanceof DiffuseError && err.code === 'FILE_FORMAT' && err.message.startsWith('x.ply'), `${name}: ${(err as Error)?.message}`)
  }
  t.throws(() => parsePly('ply' as unknown as Uint8Array), { code: 'INVALID_ARGUMENT' })
  t.throws(() => encodePly(new Float32Array(4), undefined), { code: 'INVALID_ARGUMENT' })
  t.throws(() => encodePly(new Float32Array(3), new Float32Array(6)), { code: 'INVALID_ARGUMENT' })
  t.throws(() => new PointCloud(new Float32Array(3), new Float32Array(2)), { code: 'INVALID_ARGUMENT' })
  // a file on disk: load() reports the path
  const dir = mkdtempSync(join(tmpdir(), 'dk-ply-bad-'))
  writeFileSync(join(dir, 'bad.ply'), good.subarray(0, good.length - 5))
  const err = await PointCloud.load(join(dir, 'bad.ply')).catch((e: unknown) => e)
  t.ok(err instanceof DiffuseError && err.code === 'FILE_FORMAT' && err.message.includes('bad.ply'), 'load() names the file')
  t.ok(readFileSync(join(dir, 'bad.ply')).length > 0)
})

t.test('channel-major [C, N] conversion (the model layout)', async (t) => {
  // [6, 2]: x x y y z z r r g g b b with colours in [-1, 1]
  const data = Float32Array.of(1, 2, 3, 4, 5, 6, -1, 1, 0, 0.5, 3, -3)
  const c = PointCloud.fromChannels(data, 6, 2, { colorRange: [-1, 1] })
  t.same(Array.from(c.positions), [1, 3, 5, 2, 4, 6])
  t.same(Array.from(c.colors!), [0, 0.5, 1, 1, 0.75, 0], 'mapped to [0, 1] and clamped')
  const back = c.toChannels({ colorRange: [-1, 1] })
  t.same(Array.from(back.data), [1, 2, 3, 4, 5, 6, -1, 1, 0, 0.5, 1, -1])
  t.throws(() => PointCloud.fromChannels(data, 4, 2), { code: 'INVALID_ARGUMENT' })
  t.throws(() => PointCloud.fromChannels(data, 6, 3), { code: 'SHAPE_MISMATCH' })
})
