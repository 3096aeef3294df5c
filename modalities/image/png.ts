import { promises as fs } from 'node:fs'
import { dirname, basename, join } from 'node:path'
import { decode, encode, convertIndexedToRgb, hasPngSignature } from 'fast-png'
import { DiffuseError, invalidArgument } from '../../src/errors.js'

/**
 * An 8-bit RGB image, row-major, 3 bytes per pixel. The one pixel format the image pipeline works
 * in: PNGs of any colour type and depth are converted to it on the way in (alpha composited over a
 * background, 16-bit rounded to 8), and written from it on the way out.
 */
export interface RgbImage {
  readonly width: number
  readonly height: number
  readonly data: Uint8Array
}

export interface DecodeOptions {
  /** colour that transparent pixels are composited over (default white, as emoji are shown) */
  background?: readonly [number, number, number]
}

/** Checks that `img` is a well-formed RgbImage; returns it. */
export function checkRgbImage(name: string, img: unknown): RgbImage {
  const o = img as RgbImage
  if (!o || typeof o !== 'object' || !Number.isInteger(o.width) || !Number.isInteger(o.height) || o.width <= 0 || o.height <= 0) {
    throw invalidArgument(name, 'an RgbImage { width, height, data }', img)
  }
  if (!(o.data instanceof Uint8Array) || o.data.length !== o.width * o.height * 3) {
    throw invalidArgument(name, `RGB data of length ${o.width * o.height * 3} (width*height*3)`, o.data)
  }
  return o
}

/** Expands 1/2/4-bit samples (packed MSB first, rows padded to a byte) to 0..255. */
function unpackLowDepth(data: Uint8Array, width: number, height: number, channels: number, depth: number): Uint8Array {
  const perRow = width * channels
  const stride = Math.ceil((perRow * depth) / 8)
  const out = new Uint8Array(perRow * height)
  const max = (1 << depth) - 1
  for (let y = 0; y < height; y++) {
    for (let i = 0; i < perRow; i++) {
      const bit = i * depth
      const byte = data[y * stride + (bit >> 3)]!
      const v = (byte >> (8 - depth - (bit & 7))) & max
      out[y * perRow + i] = Math.round((v * 255) / max)
    }
  }
  return out
}

/** Samples per pixel of each PNG colour type (grey, RGB, palette, grey+alpha, RGBA). */
const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }
/** deflate's largest possible expansion is about 1032:1; more declared pixels than that is a corrupt header */
const DEFLATE_MAX_RATIO = 1032

/**
 * Checks the IHDR size against the compressed data before decoding: a 100-byte file that declares
 * 268435458x2 pixels would otherwise make the decoder allocate and filter gigabytes (tens of seconds
 * of CPU) before it notices the data is missing. Found by scripts/fuzz.ts --target png.
 */
function preflight(bytes: Uint8Array, source: string): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const fail = (why: string): DiffuseError => new DiffuseError('FILE_FORMAT', `${source} is not a valid PNG: ${why}`, { details: { file: source } })
  let offset = 8
  let header: { width: number; height: number; depth: number; channels: number } | undefined
  let compressed = 0
  while (offset + 8 <= bytes.length) {
    const length = view.getUint32(offset)
    const type = String.fromCharCode(bytes[offset + 4]!, bytes[offset + 5]!, bytes[offset + 6]!, bytes[offset + 7]!)
    if (type === 'IHDR' && !header && length >= 13 && offset + 21 <= bytes.length) {
      header = { width: view.getUint32(offset + 8), height: view.getUint32(offset + 12), depth: bytes[offset + 16]!, channels: PNG_CHANNELS[bytes[offset + 17]!] ?? 1 }
    } else if (type === 'IDAT') compressed += Math.min(length, bytes.length - offset - 8)
    else if (type === 'IEND') break
    offset += 12 + length
  }
  if (!header) return // the decoder reports the missing header in its own words
  const { width, height, depth, channels } = header
  if (width === 0 || height === 0) throw fail(`its header declares a ${width}x${height} image (PNG sizes start at 1)`)
  const rawBytes = height * Math.ceil((width * channels * Math.max(depth, 1)) / 8)
  if (rawBytes > compressed * DEFLATE_MAX_RATIO + 1024) {
    throw fail(`its header declares ${width}x${height} pixels but the file holds only ${compressed} bytes of image data (truncated or corrupt)`)
  }
}

/** Decodes PNG bytes to 8-bit RGB. Any malformed input gives DiffuseError('FILE_FORMAT'). */
export function decodePng(bytes: Uint8Array, options: DecodeOptions = {}, source = 'PNG data'): RgbImage {
  if (!(bytes instanceof Uint8Array)) throw invalidArgument('bytes', 'a Uint8Array', bytes)
  const bg = options.background ?? [255, 255, 255]
  if (!hasPngSignature(bytes)) {
    throw new DiffuseError('FILE_FORMAT', `${source} is not a PNG file (no PNG signature)`, { details: { file: source } })
  }
  preflight(bytes, source)
  let png
  try {
    png = decode(bytes, { checkCrc: true })
  } catch (e) {
    throw new DiffuseError('FILE_FORMAT', `${source} is not a valid PNG: ${(e as Error).message}`, { cause: e, details: { file: source } })
  }
  const { width, height } = png
  let channels = png.channels
  let samples: ArrayLike<number>
  let maxValue = 255
  try {
    if (png.palette) {
      samples = convertIndexedToRgb(png)
      channels = png.palette[0]!.length
    } else if (png.depth === 16) {
      samples = png.data
      maxValue = 65535
    } else if (png.depth < 8) {
      samples = unpackLowDepth(png.data as Uint8Array, width, height, channels, png.depth)
    } else {
      samples = png.data
    }
  } catch (e) {
    throw new DiffuseError('FILE_FORMAT', `${source} has malformed pixel data: ${(e as Error).message}`, { cause: e, details: { file: source } })
  }
  const n = width * height
  if (samples.length < n * channels) {
    throw new DiffuseError('FILE_FORMAT', `${source} is truncated: ${samples.length} samples for ${width}x${height}x${channels}`, {
      details: { file: source },
    })
  }
  // tRNS for grey/RGB: one colour key that marks transparent pixels
  const key = !png.palette && png.transparency && (channels === 1 || channels === 3) ? png.transparency : undefined
  const out = new Uint8Array(n * 3)
  const to8 = (v: number): number => (maxValue === 255 ? v : Math.round((v * 255) / maxValue))
  const colour = channels >= 3 ? 3 : 1
  const hasAlpha = channels === 2 || channels === 4
  for (let p = 0; p < n; p++) {
    const s = p * channels
    let alpha = hasAlpha ? samples[s + colour]! / maxValue : 1
    if (key) {
      let match = true
      for (let c = 0; c < colour; c++) if (samples[s + c] !== key[c]) match = false
      if (match) alpha = 0
    }
    for (let c = 0; c < 3; c++) {
      const v = to8(samples[s + (colour === 3 ? c : 0)]!)
      out[p * 3 + c] = alpha === 1 ? v : Math.round(v * alpha + bg[c]! * (1 - alpha))
    }
  }
  return { width, height, data: out }
}

/** Encodes an RgbImage as an 8-bit RGB PNG. */
export function encodePng(img: RgbImage): Uint8Array {
  checkRgbImage('image', img)
  return encode({ width: img.width, height: img.height, data: img.data, depth: 8, channels: 3 })
}

/** Reads and decodes a PNG file. Missing file → FILE_NOT_FOUND, malformed → FILE_FORMAT. */
export async function readPng(path: string, options: DecodeOptions = {}): Promise<RgbImage> {
  let bytes: Uint8Array
  try {
    bytes = await fs.readFile(path)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new DiffuseError('FILE_NOT_FOUND', `PNG file not found: ${path}`, { cause: e, details: { file: path } })
    throw new DiffuseError('IO', `Could not read ${path}: ${(e as Error).message}`, { cause: e, details: { file: path } })
  }
  return decodePng(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), options, path)
}

let tempCounter = 0

/**
 * Writes bytes atomically: a temporary file in the same folder, then rename, so a reader never
 * sees half a file and a failed write never clobbers an existing one.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${tempCounter++}.tmp`)
  try {
    await fs.writeFile(tmp, bytes)
    await fs.rename(tmp, path)
  } catch (e) {
    await fs.rm(tmp, { force: true }).catch(() => undefined)
    throw new DiffuseError('IO', `Could not write ${path}: ${(e as Error).message}`, { cause: e, details: { file: path } })
  }
}

/** Encodes and writes an 8-bit RGB PNG atomically. */
export async function writePng(path: string, img: RgbImage): Promise<void> {
  if (typeof path !== 'string' || path === '') throw invalidArgument('path', 'a file path', path)
  await writeFileAtomic(path, encodePng(img))
}
