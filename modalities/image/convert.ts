import { DiffuseError } from '../../src/errors.js'
import type { RgbImage } from './png.js'

/** RGB bytes -> a [3, H, W] tensor in [-1, 1] (diffusers' VaeImageProcessor: x / 255 * 2 - 1). */
export function imageToTensor(img: RgbImage): Float32Array {
  const { width: w, height: h, data } = img
  const plane = w * h
  const out = new Float32Array(3 * plane)
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) out[c * plane + p] = (data[p * 3 + c]! / 255) * 2 - 1
  }
  return out
}

/**
 * [B, 3, H, W] in about [-1, 1] -> 8-bit RGB images, as diffusers does it: clamp(x / 2 + 0.5, 0, 1),
 * then round(x * 255). Math.fround keeps each step in float32 so halves round as in numpy.
 */
export function tensorToImages(data: Float32Array, batch: number, height: number, width: number): RgbImage[] {
  const plane = width * height
  if (data.length !== batch * 3 * plane) {
    throw new DiffuseError('SHAPE_MISMATCH', `Decoded images have ${data.length} values; expected ${batch}x3x${height}x${width}`)
  }
  const f = Math.fround
  const out: RgbImage[] = []
  for (let b = 0; b < batch; b++) {
    const px = new Uint8Array(plane * 3)
    const base = b * 3 * plane
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < plane; p++) {
        const v = f(f(data[base + c * plane + p]! / 2) + 0.5)
        const clamped = v < 0 ? 0 : v > 1 ? 1 : v
        px[p * 3 + c] = Math.round(f(clamped * 255))
      }
    }
    out.push({ width, height, data: px })
  }
  return out
}

/**
 * An inpainting mask at latent resolution, as diffusers' pipelines derive it: greyscale
 * (ITU-R 601 luma, PIL's "L"), binarised at 0.5 (1 = regenerate), then nearest-neighbour
 * downsampling to the latent grid.
 */
export function latentMask(mask: RgbImage, h: number, w: number): Float32Array {
  const out = new Float32Array(h * w)
  const fy = mask.height / h
  const fx = mask.width / w
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = (Math.floor(y * fy) * mask.width + Math.floor(x * fx)) * 3
      const d = mask.data
      const luma = (d[p]! * 299 + d[p + 1]! * 587 + d[p + 2]! * 114) / 1000
      out[y * w + x] = luma / 255 >= 0.5 ? 1 : 0
    }
  }
  return out
}
