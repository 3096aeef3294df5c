import { DiffuseError } from '../../src/errors.js'
import { checkRgbImage, type RgbImage } from './png.js'

/** Lays equal-sized images out in a grid (row-major) with a gap of background colour between them. */
export function imageGrid(images: readonly RgbImage[], columns: number, gap = 4, background: readonly [number, number, number] = [255, 255, 255]): RgbImage {
  if (images.length === 0) throw new DiffuseError('INVALID_ARGUMENT', 'imageGrid needs at least one image')
  if (!Number.isInteger(columns) || columns < 1) throw new DiffuseError('INVALID_ARGUMENT', `Expected columns to be a positive integer but received ${columns}`)
  images.forEach((im, i) => checkRgbImage(`images[${i}]`, im))
  const { width: w, height: h } = images[0]!
  if (images.some((im) => im.width !== w || im.height !== h)) throw new DiffuseError('INVALID_ARGUMENT', 'imageGrid needs images of one size')
  const cols = Math.min(columns, images.length)
  const rows = Math.ceil(images.length / cols)
  const W = cols * w + (cols - 1) * gap
  const H = rows * h + (rows - 1) * gap
  const data = new Uint8Array(W * H * 3)
  for (let p = 0; p < W * H; p++) data.set(background, p * 3)
  images.forEach((im, i) => {
    const x0 = (i % cols) * (w + gap)
    const y0 = Math.floor(i / cols) * (h + gap)
    for (let y = 0; y < h; y++) data.set(im.data.subarray(y * w * 3, (y + 1) * w * 3), ((y0 + y) * W + x0) * 3)
  })
  return { width: W, height: H, data }
}
