/**
 * 2-D median filter with edge replication (scipy.ndimage.median_filter, mode 'nearest', odd sizes).
 * The audio models' samples carry pixel-level residual noise in the log-mel image that Griffin-Lim
 * turns into hiss; a small median removes it and keeps formant and harmonic structure.
 */
export function medianFilter2d(image: Float32Array, rows: number, cols: number, sizeRows: number, sizeCols: number): Float32Array {
  const out = new Float32Array(image.length)
  const hr = sizeRows >> 1
  const hc = sizeCols >> 1
  const window = new Float32Array(sizeRows * sizeCols)
  const mid = window.length >> 1
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      let k = 0
      for (let dr = -hr; dr <= hr; dr++) {
        const rr = Math.min(Math.max(r + dr, 0), rows - 1) * cols
        for (let dc = -hc; dc <= hc; dc++) window[k++] = image[rr + Math.min(Math.max(c + dc, 0), cols - 1)]!
      }
      window.sort()
      out[r * cols + c] = window[mid]!
    }
  }
  return out
}
