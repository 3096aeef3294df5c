import t from 'tap'
import { mkdtempSync, readdirSync, writeFileSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { deflateSync } from 'node:zlib'
import { encode } from 'fast-png'
import { decodePng, encodePng, readPng, writePng } from '../modalities/image/png.js'

// PNG files written by hand with node:zlib (an encoder independent of fast-png): chunks, CRC, filter 0
function crc32(buf: Uint8Array): number {
  let c = ~0
  for (const b of buf) {
    c ^= b
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1))
  }
  return ~c >>> 0
}
function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8)
  head.writeUInt32BE(data.length, 0)
  head.write(type, 4, 'ascii')
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(Buffer.concat([Buffer.from(type, 'ascii'), data])), 0)
  return Buffer.concat([head, data, crc])
}
function handPng(w: number, h: number, colorType: number, depth: number, rows: Uint8Array[], extra: Buffer[] = []): Uint8Array {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(w, 0)
  ihdr.writeUInt32BE(h, 4)
  ihdr[8] = depth
  ihdr[9] = colorType
  const raw = Buffer.concat(rows.map((r) => Buffer.concat([Buffer.from([0]), r])))
  return new Uint8Array(
    Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), ...extra, chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0))]),
  )
}

t.test('8-bit RGB round trip through encodePng/decodePng', async (t) => {
  const data = Uint8Array.from({ length: 5 * 3 * 3 }, (_, i) => (i * 53 + 7) % 256)
  const img = decodePng(encodePng({ width: 5, height: 3, data }))
  t.same([img.width, img.height], [5, 3])
  t.same(Array.from(img.data), Array.from(data))
})

t.test('RGBA is composited over the background: v*a + bg*(1-a)', async (t) => {
  const row = Uint8Array.from([200, 100, 0, 255, 200, 100, 0, 0, 200, 100, 0, 128])
  const png = handPng(3, 1, 6, 8, [row])
  const white = decodePng(png)
  const a = 128 / 255
  t.same(Array.from(white.data), [200, 100, 0, 255, 255, 255, Math.round(200 * a + 255 * (1 - a)), Math.round(100 * a + 255 * (1 - a)), Math.round(255 * (1 - a))])
  const black = decodePng(png, { background: [0, 0, 0] })
  t.same(Array.from(black.data.slice(3, 6)), [0, 0, 0])
})

t.test('grey 8-bit, grey 16-bit, grey+alpha, 1-bit grey and palette images become RGB', async (t) => {
  t.same(Array.from(decodePng(handPng(2, 1, 0, 8, [Uint8Array.from([0, 77])])).data), [0, 0, 0, 77, 77, 77])
  // 16-bit: 0x8080 -> round(32896 * 255 / 65535) = 128; 0xffff -> 255
  t.same(Array.from(decodePng(handPng(2, 1, 0, 16, [Uint8Array.from([0x80, 0x80, 0xff, 0xff])])).data), [128, 128, 128, 255, 255, 255])
  t.same(Array.from(decodePng(handPng(1, 1, 4, 8, [Uint8Array.from([0, 0])])).data), [255, 255, 255], 'transparent black over white')
  // 1-bit: 0b10100000 -> 1,0,1 -> 255,0,255
  t.same(Array.from(decodePng(handPng(3, 1, 0, 1, [Uint8Array.from([0b10100000])])).data), [255, 255, 255, 0, 0, 0, 255, 255, 255])
  const plte = chunk('PLTE', Uint8Array.from([10, 20, 30, 40, 50, 60]))
  t.same(Array.from(decodePng(handPng(2, 1, 3, 8, [Uint8Array.from([1, 0])], [plte])).data), [40, 50, 60, 10, 20, 30])
  // 16-bit RGBA via fast-png's encoder, full alpha
  const rgba16 = encode({ width: 1, height: 1, depth: 16, channels: 4, data: Uint16Array.from([65535, 0, 257 * 10, 65535]) })
  t.same(Array.from(decodePng(rgba16).data), [255, 0, 10])
})

t.test('corrupt PNGs give FILE_FORMAT', async (t) => {
  const good = encodePng({ width: 2, height: 2, data: new Uint8Array(12).fill(9) })
  t.throws(() => decodePng(new Uint8Array([1, 2, 3, 4])), { code: 'FILE_FORMAT', message: /not a PNG/ })
  t.throws(() => decodePng(good.slice(0, 30)), { code: 'FILE_FORMAT' })
  const bad = Uint8Array.from(good)
  bad[good.length - 20] ^= 0xff
  t.throws(() => decodePng(bad), { code: 'FILE_FORMAT' })
  t.throws(() => decodePng('png' as unknown as Uint8Array), { code: 'INVALID_ARGUMENT' })
  const dir = mkdtempSync(join(tmpdir(), 'png-'))
  writeFileSync(join(dir, 'x.png'), good.slice(0, 40))
  await t.rejects(readPng(join(dir, 'x.png')), { code: 'FILE_FORMAT', message: /x\.png/ })
  await t.rejects(readPng(join(dir, 'missing.png')), { code: 'FILE_NOT_FOUND' })
})

t.test('writePng is atomic: the file appears whole, no temporary file is left, a failed write leaves nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'png-w-'))
  const img = { width: 4, height: 2, data: Uint8Array.from({ length: 24 }, (_, i) => i * 10) }
  const path = join(dir, 'a.png')
  writeFileSync(path, 'old')
  await writePng(path, img)
  t.same(readdirSync(dir), ['a.png'])
  t.same(Array.from((await readPng(path)).data), Array.from(img.data))
  await t.rejects(writePng(join(dir, 'no', 'such', 'dir.png'), img), { code: 'IO' })
  t.same(readdirSync(dir), ['a.png'])
  t.throws(() => encodePng({ width: 2, height: 2, data: new Uint8Array(5) }), { code: 'INVALID_ARGUMENT' })
  t.equal(readFileSync(path).subarray(1, 4).toString(), 'PNG')
})
