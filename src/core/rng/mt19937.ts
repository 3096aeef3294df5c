/**
 * The 32-bit Mersenne Twister exactly as torch's CPU generator runs it (ATen's mt19937 engine):
 * the classic MT19937 recurrence, seeded with init_genrand on the LOW 32 bits of torch's 64-bit
 * seed (manual_seed(2**32 + 5) therefore equals manual_seed(5)), and regenerating the 624-word
 * state lazily on the first draw.
 */
const N = 624
const M = 397
const MATRIX_A = 0x9908b0df
const UPPER = 0x80000000
const LOWER = 0x7fffffff

export class MT19937 {
  private readonly state = new Uint32Array(N)
  private index = N

  constructor(seed: number | bigint) {
    const s = BigInt(seed) & 0xffffffffn
    const st = this.state
    st[0] = Number(s)
    for (let j = 1; j < N; j++) {
      const prev = st[j - 1]! ^ (st[j - 1]! >>> 30)
      // 1812433253 * prev overflows 2^53 in doubles; Math.imul keeps the exact low 32 bits.
      st[j] = (Math.imul(1812433253, prev) + j) >>> 0
    }
    this.index = N
  }

  /** A copy at the same position of the stream. */
  clone(): MT19937 {
    const c = Object.create(MT19937.prototype) as MT19937
    ;(c as unknown as { state: Uint32Array }).state = this.state.slice()
    c.index = this.index
    return c
  }

  private twist(): void {
    const st = this.state
    let k = 0
    for (; k < N - M; k++) {
      const y = (st[k]! & UPPER) | (st[k + 1]! & LOWER)
      st[k] = st[k + M]! ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0)
    }
    for (; k < N - 1; k++) {
      const y = (st[k]! & UPPER) | (st[k + 1]! & LOWER)
      st[k] = st[k + M - N]! ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0)
    }
    const y = (st[N - 1]! & UPPER) | (st[0]! & LOWER)
    st[N - 1] = st[M - 1]! ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0)
    this.index = 0
  }

  /** The next 32-bit output, as an unsigned integer. */
  nextUint32(): number {
    if (this.index >= N) this.twist()
    let y = this.state[this.index++]!
    y ^= y >>> 11
    y ^= (y << 7) & 0x9d2c5680
    y ^= (y << 15) & 0xefc60000
    y ^= y >>> 18
    return y >>> 0
  }
}
