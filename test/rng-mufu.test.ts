import t from 'tap'
import { readFileSync } from 'node:fs'
import { cosApprox, sinApprox, sincosApprox } from '../src/core/rng/cuda-f32.js'
import { bitsFromFloat, floatFromBits } from '../src/core/rng/float32.js'
import { mufuQuadratic, mufuSquare } from '../src/core/rng/mufu-model.js'
import { MUFU_SIN_TABLE } from '../src/core/rng/mufu-table.js'

// GPU outputs of sin.approx.f32 / cos.approx.f32 measured by training/rng/measure_mufu.cu (a
// sample: quadrant-0 sweep, interval edges, other quadrants and turns, curand's angles, tiny and
// large inputs), the data the table in mufu-table.ts was fitted to.
interface Sample {
  device: string
  points: [string, string, string][]
}
const fx = JSON.parse(readFileSync(new URL('./fixtures/rng/mufu_sample.json', import.meta.url), 'utf8')) as Sample
const bits = (v: number) => (bitsFromFloat(v) >>> 0).toString(16).padStart(8, '0')
const num = (h: string) => floatFromBits(parseInt(h, 16))

t.test(`sinApprox / cosApprox / sincosApprox reproduce the ${fx.device} bit for bit`, async (t) => {
  const sc = new Float64Array(2)
  let bad = 0
  for (const [xh, sh, ch] of fx.points) {
    const x = num(xh)
    sincosApprox(x, sc)
    const got = [bits(sinApprox(x)), bits(cosApprox(x)), bits(sc[0]!), bits(sc[1]!)]
    const want = [sh.slice(2), ch.slice(2), sh.slice(2), ch.slice(2)]
    if (got.join() !== want.join()) {
      if (bad++ < 5) t.fail(`x=${xh}: got sin ${got[0]} cos ${got[1]} sincos ${got[2]} ${got[3]}, GPU ${want[0]} ${want[1]}`)
    }
  }
  t.equal(bad, 0, `${fx.points.length} measured inputs`)
  t.ok(fx.points.length >= 1500)
})

t.test('the measured table is a sine approximation (float64 reference)', async (t) => {
  t.equal(MUFU_SIN_TABLE.length, 192)
  // Every interval at its start, middle and end against sin(π/2 · r/2^23): the unit's documented
  // absolute error is about 2^-21.4.
  let worst = 0
  for (let k = 0; k < 64; k++) {
    for (const xl of [0, 1, 4096, 65536, 131071]) {
      const r = k * 2 ** 17 + xl
      worst = Math.max(worst, Math.abs(mufuQuadratic(MUFU_SIN_TABLE, r) - Math.sin((Math.PI / 2) * (r / 2 ** 23))))
    }
  }
  t.ok(worst < 2 ** -21, `max abs error 2^${Math.log2(worst).toFixed(2)}`)
})

t.test('the squarer model: exact where no partial product falls below 2^19, zero where all do', async (t) => {
  // Bits i, j >= 10 give products of weight >= 2^20: nothing dropped, the square is exact.
  for (const x of [0x400, 0x1fc00, 0x12c00, 0x1ffff & ~0x3ff]) t.equal(mufuSquare(x), x * x, `0x${x.toString(16)}`)
  // Below 2^9 every product has weight <= 2^16: all dropped.
  for (const x of [1, 2, 3, 0x155, 0x1ff]) t.equal(mufuSquare(x), 0, `0x${x.toString(16)}`)
  // In between some bits are lost: columns 0..18, each at most 10 bits deep, so under 10·2^19.
  for (const x of [0x1ffff, 0x12345, 0x0abcd, 0x10001]) {
    const loss = x * x - mufuSquare(x)
    t.ok(loss > 0 && loss < 10 * 2 ** 19, `0x${x.toString(16)}: loss ${loss}`)
  }
})
