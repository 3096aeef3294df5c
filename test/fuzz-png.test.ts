import t from 'tap'
import { decodePng } from '../modalities/image/png.js'
import { pngTarget, pngSeeds } from './helpers/fuzz-targets.js'
import { runCases } from './helpers/fuzz-run.js'
import { decode } from 'fast-png'

// Generative fuzz of PNG decoding (fast-png behind decodePng): every colour type and depth, mutated.

t.test('seed images decode to the size and pixels fast-png reports (RGB 8-bit seed checked pixel by pixel)', async (t) => {
  for (const s of pngSeeds()) {
    const img = decodePng(s['in.png']!)
    const ref = decode(s['in.png']!)
    t.equal(img.width, ref.width)
    t.equal(img.height, ref.height)
    t.equal(img.data.length, ref.width * ref.height * 3)
  }
  const rgb = pngSeeds()[0]!['in.png']!
  const img = decodePng(rgb)
  t.same(Array.from(img.data), Array.from({ length: 18 }, (_, i) => (i * 37 + 11) % 256), 'RGB bytes round-trip')
})

t.test('3000 mutated PNG files: only FILE_FORMAT refusals or well-formed images', async (t) => {
  const tally = await runCases(pngTarget, 0x5eed02, 3000)
  t.same(tally.failures, [], 'no non-DiffuseError exception, no garbage')
  t.ok(tally.ok > 30, `${tally.ok} accepted`)
  t.ok((tally.refused.FILE_FORMAT ?? 0) > 500, `${tally.refused.FILE_FORMAT} refused as FILE_FORMAT`)
})

t.test('not a PNG, truncated, and a bad argument', async (t) => {
  const good = pngSeeds()[0]!['in.png']!
  t.throws(() => decodePng(new Uint8Array(0)), { code: 'FILE_FORMAT', message: /no PNG signature/ })
  t.throws(() => decodePng(good.slice(0, 20)), { code: 'FILE_FORMAT' })
  t.throws(() => decodePng(good.slice(0, good.length - 16)), { code: 'FILE_FORMAT' })
  t.throws(() => decodePng([1, 2] as unknown as Uint8Array), { code: 'INVALID_ARGUMENT' })
})

t.test('a tiny file with valid CRCs that declares a huge or empty image is refused at once', async (t) => {
  const { fixPngCrcs } = await import('./helpers/fuzz-targets.js')
  const base = pngSeeds()[0]!['in.png']!
  const withSize = (w: number, h: number): Uint8Array => {
    const b = base.slice()
    const v = new DataView(b.buffer)
    v.setUint32(16, w) // IHDR width, big-endian, right after the signature and the chunk header
    v.setUint32(20, h)
    return fixPngCrcs(b)
  }
  // found by scripts/fuzz.ts: 268435458x2 took 31 s of CPU inside the decoder before it failed
  t.throws(() => decodePng(withSize(268435458, 2)), { code: 'FILE_FORMAT', message: /declares 268435458x2 pixels but the file holds only \d+ bytes/ })
  t.throws(() => decodePng(withSize(100000, 100000)), { code: 'FILE_FORMAT', message: /truncated or corrupt/ })
  t.throws(() => decodePng(withSize(4, 0)), { code: 'FILE_FORMAT', message: /4x0 image/ })
  t.throws(() => decodePng(withSize(0, 2)), { code: 'FILE_FORMAT', message: /0x2 image/ })
  const ok = decodePng(withSize(3, 2))
  t.equal(ok.width * ok.height, 6, 'the unmodified size still decodes')
})
