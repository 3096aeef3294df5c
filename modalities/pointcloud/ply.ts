import { DiffuseError } from '../../src/errors.js'

/**
 * PLY (Stanford polygon file format) for point clouds.
 *
 * Reading: ascii, binary_little_endian and binary_big_endian; every element and property is parsed
 * (so that truncation anywhere is caught) but only the `vertex` element's x, y, z and, when present,
 * red/green/blue (also r/g/b, diffuse_red...) are kept. Integer colours are scaled to [0, 1] by their
 * type's maximum (uchar /255, ushort /65535), float colours are taken as they are. Comments, obj_info,
 * extra properties and other elements (faces, edges...) are tolerated. Anything truncated or
 * inconsistent is a DiffuseError('FILE_FORMAT').
 *
 * Writing: float x y z, and colours as uchar (what most viewers and three.js's PLYLoader expect) or
 * float, in binary little-endian (default) or ascii.
 */

export interface PlyData {
  /** xyz interleaved, length 3·count */
  positions: Float32Array
  /** rgb interleaved in [0, 1] (uchar colours /255), when the file has colours */
  colors?: Float32Array
  count: number
  format: PlyFormat
  comments: string[]
}

export type PlyFormat = 'ascii' | 'binary_little_endian' | 'binary_big_endian'

export interface PlyWriteOptions {
  /** default 'binary_little_endian' */
  format?: 'ascii' | 'binary_little_endian'
  /** how colours are stored: 'uchar' (default; quantised to 1/255) or 'float' (exact) */
  colorType?: 'uchar' | 'float'
  comments?: readonly string[]
}

type ScalarType = 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'float64'

const TYPE_ALIASES: Record<string, ScalarType> = {
  char: 'int8', int8: 'int8', uchar: 'uint8', uint8: 'uint8',
  short: 'int16', int16: 'int16', ushort: 'uint16', uint16: 'uint16',
  int: 'int32', int32: 'int32', uint: 'uint32', uint32: 'uint32',
  float: 'float32', float32: 'float32', double: 'float64', float64: 'float64',
}
const TYPE_SIZE: Record<ScalarType, number> = { int8: 1, uint8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, float32: 4, float64: 8 }

interface PlyProperty {
  name: string
  type: ScalarType
  /** list properties: the type of the count that precedes the items */
  countType?: ScalarType
}

interface PlyElement {
  name: string
  count: number
  properties: PlyProperty[]
}

function formatError(source: string, message: string): DiffuseError {
  return new DiffuseError('FILE_FORMAT', `${source}: ${message}`, { details: { file: source } })
}

const COLOR_NAMES: readonly (readonly string[])[] = [
  ['red', 'r', 'diffuse_red'],
  ['green', 'g', 'diffuse_green'],
  ['blue', 'b', 'diffuse_blue'],
]

function colourScale(type: ScalarType): number {
  if (type === 'uint8') return 1 / 255
  if (type === 'uint16') return 1 / 65535
  if (type === 'float32' || type === 'float64') return 1
  return NaN // signed integer colours are not a convention anyone uses: rejected below
}

/** Finds "end_header" followed by a line break; returns the offset of the first data byte. */
function headerEnd(bytes: Uint8Array, source: string): { text: string; dataStart: number } {
  const limit = Math.min(bytes.length, 1 << 20)
  const marker = 'end_header'
  for (let i = 0; i + marker.length <= limit; i++) {
    if (bytes[i] !== 0x65) continue // 'e'
    let match = true
    for (let k = 1; k < marker.length; k++) {
      if (bytes[i + k] !== marker.charCodeAt(k)) {
        match = false
        break
      }
    }
    if (!match || (i > 0 && bytes[i - 1] !== 0x0a)) continue
    let j = i + marker.length
    while (j < bytes.length && (bytes[j] === 0x20 || bytes[j] === 0x09)) j++
    if (bytes[j] === 0x0d) j++
    if (bytes[j] !== 0x0a) throw formatError(source, 'truncated header: no line break after end_header')
    return { text: new TextDecoder('latin1').decode(bytes.subarray(0, i)), dataStart: j + 1 }
  }
  throw formatError(source, 'no "end_header" line in the first MiB: not a PLY file or a truncated header')
}

function parseHeader(text: string, source: string): { format: PlyFormat; elements: PlyElement[]; comments: string[] } {
  const lines = text.split(/\r?\n/)
  if (lines[0]?.trim() !== 'ply') throw formatError(source, 'not a PLY file (the first line is not "ply")')
  let format: PlyFormat | null = null
  const elements: PlyElement[] = []
  const comments: string[] = []
  for (let li = 1; li < lines.length; li++) {
    const line = lines[li]!.trim()
    if (line === '') continue
    const words = line.split(/\s+/)
    const kw = words[0]
    if (kw === 'comment' || kw === 'obj_info') {
      comments.push(line.slice(kw.length).trim())
    } else if (kw === 'format') {
      if (words.length !== 3 || words[2] !== '1.0') throw formatError(source, `bad format line "${line}"`)
      if (words[1] !== 'ascii' && words[1] !== 'binary_little_endian' && words[1] !== 'binary_big_endian') {
        throw formatError(source, `unknown format "${words[1]}" (expected ascii, binary_little_endian or binary_big_endian)`)
      }
      format = words[1]
    } else if (kw === 'element') {
      const count = Number(words[2])
      if (words.length !== 3 || !Number.isInteger(count) || count < 0) throw formatError(source, `bad element line "${line}"`)
      elements.push({ name: words[1]!, count, properties: [] })
    } else if (kw === 'property') {
      const el = elements[elements.length - 1]
      if (!el) throw formatError(source, `property before any element: "${line}"`)
      if (words[1] === 'list') {
        const countType = TYPE_ALIASES[words[2] ?? '']
        const type = TYPE_ALIASES[words[3] ?? '']
        if (words.length !== 5 || !countType || !type) throw formatError(source, `bad list property line "${line}"`)
        if (countType === 'float32' || countType === 'float64') throw formatError(source, `list count type must be an integer type: "${line}"`)
        el.properties.push({ name: words[4]!, type, countType })
      } else {
        const type = TYPE_ALIASES[words[1] ?? '']
        if (words.length !== 3 || !type) throw formatError(source, `bad property line "${line}" (unknown type or extra words)`)
        el.properties.push({ name: words[2]!, type })
      }
    } else {
      throw formatError(source, `unknown header keyword "${kw}" in line ${li + 1}`)
    }
  }
  if (!format) throw formatError(source, 'no "format" line in the header')
  return { format, elements, comments }
}

/** Where the kept vertex values go: column index of each kept property (or -1). */
interface VertexPlan {
  xyz: [number, number, number]
  rgb: [number, number, number] | null
  colourScale: number
}

function planVertex(el: PlyElement, source: string): VertexPlan {
  const find = (names: readonly string[]): number => el.properties.findIndex((p) => names.includes(p.name) && !p.countType)
  const xyz: [number, number, number] = [find(['x']), find(['y']), find(['z'])]
  if (xyz.some((i) => i < 0)) throw formatError(source, 'the vertex element has no x, y and z properties')
  const rgbIdx = COLOR_NAMES.map(find)
  let rgb: [number, number, number] | null = null
  let scale = 1
  if (rgbIdx.every((i) => i >= 0)) {
    const types = rgbIdx.map((i) => el.properties[i]!.type)
    if (types[0] !== types[1] || types[1] !== types[2]) throw formatError(source, `red, green and blue have different types (${types.join(', ')})`)
    scale = colourScale(types[0]!)
    if (Number.isNaN(scale)) throw formatError(source, `colour type ${types[0]} is not supported (uchar, ushort, float or double)`)
    rgb = rgbIdx as [number, number, number]
  }
  return { xyz, rgb, colourScale: scale }
}

function readScalar(view: DataView, offset: number, type: ScalarType, little: boolean): number {
  switch (type) {
    case 'int8': return view.getInt8(offset)
    case 'uint8': return view.getUint8(offset)
    case 'int16': return view.getInt16(offset, little)
    case 'uint16': return view.getUint16(offset, little)
    case 'int32': return view.getInt32(offset, little)
    case 'uint32': return view.getUint32(offset, little)
    case 'float32': return view.getFloat32(offset, little)
    case 'float64': return view.getFloat64(offset, little)
  }
}

/** Parses a PLY file's bytes. `source` names the file in error messages. */
export function parsePly(input: Uint8Array | ArrayBuffer, source = 'PLY data'): PlyData {
  if (!(input instanceof Uint8Array) && !(input instanceof ArrayBuffer)) {
    throw new DiffuseError('INVALID_ARGUMENT', `Expected PLY data as a Uint8Array or ArrayBuffer`)
  }
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input)
  if (bytes.length < 4 || bytes[0] !== 0x70 || bytes[1] !== 0x6c || bytes[2] !== 0x79 || (bytes[3] !== 0x0a && bytes[3] !== 0x0d)) {
    throw formatError(source, 'not a PLY file (it does not start with "ply")')
  }
  const { text, dataStart } = headerEnd(bytes, source)
  const { format, elements, comments } = parseHeader(text, source)
  const vIndex = elements.findIndex((e) => e.name === 'vertex')
  if (vIndex < 0) throw formatError(source, 'no "vertex" element')
  const vertex = elements[vIndex]!
  const plan = planVertex(vertex, source)
  const count = vertex.count
  if (count > 2 ** 28) throw formatError(source, `vertex count ${count} is beyond what this reader accepts (2^28)`)
  const positions = new Float32Array(3 * count)
  const colors = plan.rgb ? new Float32Array(3 * count) : undefined
  const values = new Float64Array(vertex.properties.length)
  const store = (i: number): void => {
    for (let k = 0; k < 3; k++) {
      const v = values[plan.xyz[k]!]!
      // checked after rounding to float32: a double such as 1e300 is finite but becomes Infinity here
      if (!Number.isFinite(Math.fround(v))) throw formatError(source, `vertex ${i} has a non-finite coordinate (${v} as float32)`)
      positions[3 * i + k] = v
    }
    if (colors && plan.rgb) {
      for (let k = 0; k < 3; k++) {
        const c = values[plan.rgb[k]!]! * plan.colourScale
        if (!Number.isFinite(c)) throw formatError(source, `vertex ${i} has a non-finite colour`)
        // float colours from other tools may overshoot [0, 1]; the documented range is what callers get
        colors[3 * i + k] = Math.min(1, Math.max(0, c))
      }
    }
  }

  if (format === 'ascii') {
    const body = new TextDecoder('latin1').decode(bytes.subarray(dataStart))
    // tokens line by line: every element row is one line with exactly its properties' values
    const lines = body.split(/\r?\n/)
    let li = 0
    const nextLine = (what: string): string[] => {
      while (li < lines.length && lines[li]!.trim() === '') li++
      if (li >= lines.length) throw formatError(source, `truncated: expected ${what}, found the end of the file`)
      return lines[li++]!.trim().split(/\s+/)
    }
    for (const el of elements) {
      for (let i = 0; i < el.count; i++) {
        const tok = nextLine(`${el.name} ${i} of ${el.count}`)
        let t = 0
        for (let p = 0; p < el.properties.length; p++) {
          const prop = el.properties[p]!
          if (prop.countType) {
            const n = Number(tok[t++])
            if (!Number.isInteger(n) || n < 0) throw formatError(source, `${el.name} ${i}: bad list count "${tok[t - 1]}"`)
            t += n
          } else {
            const s = tok[t++]
            const v = s === undefined ? NaN : Number(s)
            if (s === undefined || (Number.isNaN(v) && s.toLowerCase() !== 'nan')) throw formatError(source, `${el.name} ${i}: expected a number for "${prop.name}", found ${s === undefined ? 'the end of the line' : `"${s}"`}`)
            values[p] = v
          }
        }
        if (t !== tok.length) throw formatError(source, `${el.name} ${i}: ${tok.length} values on the line, the header declares ${t}`)
        if (el === vertex) store(i)
      }
    }
  } else {
    const little = format === 'binary_little_endian'
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    let off = dataStart
    const need = (n: number, what: string): void => {
      if (off + n > bytes.length) throw formatError(source, `truncated: ${what} needs ${n} more bytes at offset ${off}, the file has ${bytes.length}`)
    }
    for (const el of elements) {
      const fixed = el.properties.every((p) => !p.countType)
      const rowSize = fixed ? el.properties.reduce((s, p) => s + TYPE_SIZE[p.type], 0) : 0
      if (fixed && el !== vertex) {
        need(rowSize * el.count, `element "${el.name}" (${el.count} rows)`)
        off += rowSize * el.count
        continue
      }
      if (fixed) need(rowSize * el.count, `element "${el.name}" (${el.count} rows)`)
      for (let i = 0; i < el.count; i++) {
        for (let p = 0; p < el.properties.length; p++) {
          const prop = el.properties[p]!
          if (prop.countType) {
            need(TYPE_SIZE[prop.countType], `${el.name} ${i} list count`)
            const n = readScalar(view, off, prop.countType, little)
            off += TYPE_SIZE[prop.countType]
            if (n < 0) throw formatError(source, `${el.name} ${i}: negative list count ${n}`)
            need(n * TYPE_SIZE[prop.type], `${el.name} ${i} list of ${n}`)
            off += n * TYPE_SIZE[prop.type]
          } else {
            if (!fixed) need(TYPE_SIZE[prop.type], `${el.name} ${i} "${prop.name}"`)
            values[p] = readScalar(view, off, prop.type, little)
            off += TYPE_SIZE[prop.type]
          }
        }
        if (el === vertex) store(i)
      }
    }
  }
  return { positions, ...(colors ? { colors } : {}), count, format, comments }
}

function checkCloudArrays(positions: unknown, colors: unknown): number {
  if (!(positions instanceof Float32Array) || positions.length % 3 !== 0) {
    throw new DiffuseError('INVALID_ARGUMENT', 'Expected positions to be a Float32Array of xyz triples (length a multiple of 3)')
  }
  if (colors !== undefined && (!(colors instanceof Float32Array) || colors.length !== positions.length)) {
    throw new DiffuseError('INVALID_ARGUMENT', `Expected colors to be a Float32Array of rgb triples with the positions' length ${positions.length}`)
  }
  return positions.length / 3
}

/** Colour in [0, 1] → uchar, rounding to nearest (NaN → 0). */
export function colourToByte(c: number): number {
  const v = Math.round(Math.min(Math.max(c, 0), 1) * 255)
  return Number.isNaN(v) ? 0 : v
}

/** Shortest decimal that reads back as the same float32 (9 significant digits always do). */
function f32Text(v: number): string {
  const f = Math.fround(v)
  for (let p = 6; p < 9; p++) {
    const s = f.toPrecision(p)
    if (Math.fround(Number(s)) === f) return String(Number(s))
  }
  return String(Number(f.toPrecision(9)))
}

/** Encodes a cloud as a PLY file. */
export function encodePly(positions: Float32Array, colors: Float32Array | undefined, options: PlyWriteOptions = {}): Uint8Array {
  const count = checkCloudArrays(positions, colors)
  const format = options.format ?? 'binary_little_endian'
  if (format !== 'ascii' && format !== 'binary_little_endian') throw new DiffuseError('INVALID_ARGUMENT', `Expected format to be "ascii" or "binary_little_endian" but received ${JSON.stringify(format)}`)
  const colorType = options.colorType ?? 'uchar'
  if (colorType !== 'uchar' && colorType !== 'float') throw new DiffuseError('INVALID_ARGUMENT', `Expected colorType to be "uchar" or "float" but received ${JSON.stringify(colorType)}`)
  const comments = (options.comments ?? ['made by diffusekit']).map((c) => String(c).replace(/[\r\n]+/g, ' '))
  const header = [
    'ply',
    `format ${format} 1.0`,
    ...comments.map((c) => `comment ${c}`),
    `element vertex ${count}`,
    'property float x',
    'property float y',
    'property float z',
    ...(colors ? ['red', 'green', 'blue'].map((n) => `property ${colorType} ${n}`) : []),
    'end_header',
    '',
  ].join('\n')
  const head = new TextEncoder().encode(header)
  if (format === 'ascii') {
    const rows: string[] = new Array(count)
    for (let i = 0; i < count; i++) {
      let row = `${f32Text(positions[3 * i]!)} ${f32Text(positions[3 * i + 1]!)} ${f32Text(positions[3 * i + 2]!)}`
      if (colors) {
        for (let k = 0; k < 3; k++) row += ' ' + (colorType === 'uchar' ? String(colourToByte(colors[3 * i + k]!)) : f32Text(colors[3 * i + k]!))
      }
      rows[i] = row
    }
    const body = new TextEncoder().encode(rows.join('\n') + (count > 0 ? '\n' : ''))
    const out = new Uint8Array(head.length + body.length)
    out.set(head)
    out.set(body, head.length)
    return out
  }
  const rowSize = 12 + (colors ? (colorType === 'uchar' ? 3 : 12) : 0)
  const out = new Uint8Array(head.length + rowSize * count)
  out.set(head)
  const view = new DataView(out.buffer)
  let off = head.length
  for (let i = 0; i < count; i++) {
    view.setFloat32(off, positions[3 * i]!, true)
    view.setFloat32(off + 4, positions[3 * i + 1]!, true)
    view.setFloat32(off + 8, positions[3 * i + 2]!, true)
    off += 12
    if (colors) {
      for (let k = 0; k < 3; k++) {
        if (colorType === 'uchar') out[off++] = colourToByte(colors[3 * i + k]!)
        else {
          view.setFloat32(off, colors[3 * i + k]!, true)
          off += 4
        }
      }
    }
  }
  return out
}
