import t from 'tap'
import { decodeWav } from '../modalities/audio/wav.js'
import { mutateBytes, rng } from './helpers/fuzz.js'
import { makeWav, wavTarget } from './helpers/fuzz-targets.js'
import { runCases } from './helpers/fuzz-run.js'

// Generative fuzz of the WAV reader: mutated valid files of every supported variant must decode to
// well-formed audio or be refused with DiffuseError FILE_FORMAT — never another exception, never NaN.

t.test('seed files decode to the samples written (hand-built writer, float64 reference)', async (t) => {
  for (const [format, bits, tol] of [
    [1, 8, 1 / 127],
    [1, 16, 2 / 32767],
    [1, 24, 1 / 8388607],
    [1, 32, 1e-9],
    [3, 32, 1e-7],
    [3, 64, 0],
  ] as const) {
    const a = decodeWav(makeWav({ format, bits, channels: 2, frames: 9, extensible: bits === 24, extraChunk: true, oddChunk: true }))
    t.equal(a.channels.length, 2)
    t.equal(a.sampleRate, 16000)
    let maxErr = 0
    for (let f = 0; f < 9; f++) for (let c = 0; c < 2; c++) maxErr = Math.max(maxErr, Math.abs(a.channels[c]![f]! - Math.sin((f * 2 + c) * 0.37) * 0.8))
    t.ok(maxErr <= tol + 1e-7, `${format === 1 ? 'PCM' : 'float'} ${bits}-bit: max error ${maxErr}`)
  }
})

t.test('3000 mutated WAV files: only clean refusals or well-formed audio', async (t) => {
  const tally = await runCases(wavTarget, 0x5eed01, 3000)
  t.same(tally.failures, [], 'no non-DiffuseError exception, no garbage')
  t.ok(tally.ok > 100, `${tally.ok} accepted`)
  t.ok((tally.refused.FILE_FORMAT ?? 0) > 500, `${tally.refused.FILE_FORMAT} refused as FILE_FORMAT`)
})

t.test('specific corruptions give FILE_FORMAT with a message that says what is wrong', async (t) => {
  const good = makeWav({ format: 3, bits: 32, channels: 1, frames: 4 })
  const cases: [string, Uint8Array, RegExp][] = [
    ['empty', new Uint8Array(0), /shorter than a RIFF header/],
    ['header only', good.slice(0, 12), /no "fmt " chunk/],
    ['cut inside data', good.slice(0, good.length - 3), /truncated/],
    ['NaN float sample', (() => {
      const b = good.slice()
      new DataView(b.buffer).setFloat32(b.length - 4, NaN, true)
      return b
    })(), /finite float32-range samples/],
    ['Infinity float sample', (() => {
      const b = good.slice()
      new DataView(b.buffer).setFloat32(b.length - 8, -Infinity, true)
      return b
    })(), /finite float32-range samples/],
  ]
  for (const [label, bytes, re] of cases) t.throws(() => decodeWav(bytes), { name: 'DiffuseError', code: 'FILE_FORMAT', message: re }, label)
  t.throws(() => decodeWav('x' as unknown as Uint8Array), { code: 'INVALID_ARGUMENT' })
})

t.test('huge declared sizes never allocate beyond the file (a 40-byte file claiming 4 GB of data)', async (t) => {
  const r = rng(9)
  for (let i = 0; i < 200; i++) {
    const b = mutateBytes(makeWav({ format: 1, bits: 16, channels: 1, frames: 2 }), r)
    if (b.length < 8) continue
    new DataView(b.buffer).setUint32(Math.min(40, b.length - 4), 0xfffffff0, true)
    try {
      const a = decodeWav(b)
      t.ok(a.channels[0]!.length <= b.length, 'decoded frames bounded by the file size')
    } catch (e) {
      t.equal((e as { code?: string }).code, 'FILE_FORMAT')
    }
  }
})
