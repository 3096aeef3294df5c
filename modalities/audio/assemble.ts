/**
 * Putting generated pieces of audio together: silence trimming, peak levels, joining with gaps,
 * placing notes on a timeline. Plain sample arithmetic, no model knowledge.
 */

/** [start, end) of the part of `x` louder than `db` (relative to its loudest frame), by frames of `hop`. */
export function activeRange(x: Float32Array, hop: number, db = -40): [number, number] {
  const n = Math.floor(x.length / hop)
  if (n === 0) return [0, x.length]
  const rms = new Float64Array(n)
  let peak = 0
  for (let f = 0; f < n; f++) {
    let s = 0
    for (let i = f * hop; i < (f + 1) * hop; i++) s += x[i]! * x[i]!
    rms[f] = Math.sqrt(s / hop)
    if (rms[f]! > peak) peak = rms[f]!
  }
  if (peak === 0) return [0, 0]
  const threshold = peak * 10 ** (db / 20)
  let first = 0
  while (first < n && rms[first]! <= threshold) first++
  let last = n - 1
  while (last > first && rms[last]! <= threshold) last--
  // keep one frame of margin each side: consonant onsets and decays sit just under the threshold
  return [Math.max(first - 1, 0) * hop, Math.min(last + 2, n) * hop]
}

/** Scales `x` in place so that its peak is `level` (silence stays silence). */
export function normalisePeak(x: Float32Array, level: number): Float32Array {
  let peak = 0
  for (let i = 0; i < x.length; i++) peak = Math.max(peak, Math.abs(x[i]!))
  if (peak > 0) {
    const g = level / peak
    for (let i = 0; i < x.length; i++) x[i]! *= g
  }
  return x
}

/** Short raised-cosine fades at both ends, so cut pieces do not click. */
export function fadeEdges(x: Float32Array, samples: number): Float32Array {
  const n = Math.min(samples, Math.floor(x.length / 2))
  for (let i = 0; i < n; i++) {
    const g = 0.5 - 0.5 * Math.cos((Math.PI * i) / n)
    x[i]! *= g
    x[x.length - 1 - i]! *= g
  }
  return x
}

/** Concatenates pieces with `gap` samples of silence between them and `edge` samples at both ends. */
export function joinWithGaps(pieces: readonly Float32Array[], gap: number, edge: number): { samples: Float32Array; starts: number[] } {
  let total = 2 * edge + Math.max(pieces.length - 1, 0) * gap
  for (const p of pieces) total += p.length
  const samples = new Float32Array(total)
  const starts: number[] = []
  let at = edge
  pieces.forEach((p, i) => {
    starts.push(at)
    samples.set(p, at)
    at += p.length + (i < pieces.length - 1 ? gap : 0)
  })
  return { samples, starts }
}

/** Sums pieces into one buffer at the given sample offsets. */
export function mixAt(pieces: readonly { samples: Float32Array; at: number }[]): Float32Array {
  let total = 0
  for (const p of pieces) total = Math.max(total, p.at + p.samples.length)
  const out = new Float32Array(total)
  for (const p of pieces) {
    for (let i = 0; i < p.samples.length; i++) out[p.at + i]! += p.samples[i]!
  }
  return out
}
