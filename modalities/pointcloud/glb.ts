import { BufferGeometry, Float32BufferAttribute, Points, PointsMaterial, Scene } from 'three'
import { GLTFExporter } from 'three/examples/jsm/exporters/GLTFExporter.js'
import { DiffuseError } from '../../src/errors.js'
import { srgbToLinear } from './srgb.js'

/**
 * GLB (binary glTF 2.0) export through three.js's GLTFExporter: one mesh with a POINTS primitive,
 * POSITION and, with colours, COLOR_0 (converted from sRGB to linear, as glTF defines COLOR_0).
 *
 * GLTFExporter reads its Blobs with the browser's FileReader, which Node lacks: a minimal FileReader
 * over Blob.arrayBuffer() is installed only while an export runs (reference-counted, so concurrent
 * exports share it) and removed afterwards, leaving the global scope as it was.
 */

let shimUsers = 0

class BlobFileReader {
  result: ArrayBuffer | string | null = null
  onloadend: (() => void) | null = null
  onerror: ((e: unknown) => void) | null = null
  readAsArrayBuffer(blob: Blob): void {
    blob.arrayBuffer().then(
      (buf) => {
        this.result = buf
        this.onloadend?.()
      },
      (e) => this.onerror?.(e),
    )
  }
  readAsDataURL(blob: Blob): void {
    blob.arrayBuffer().then(
      (buf) => {
        this.result = `data:${blob.type || 'application/octet-stream'};base64,${Buffer.from(buf).toString('base64')}`
        this.onloadend?.()
      },
      (e) => this.onerror?.(e),
    )
  }
}

let savedWarn: typeof console.warn | null = null

function installShim(): () => void {
  const g = globalThis as { FileReader?: unknown }
  if (shimUsers === 0 && g.FileReader !== undefined) return () => {} // a real FileReader: leave it alone
  if (shimUsers === 0) {
    // GLTFExporter advises a mesh material for every points primitive; that is noise for a point cloud
    savedWarn = console.warn
    const warn = savedWarn
    console.warn = (...args: unknown[]) => {
      if (typeof args[0] === 'string' && args[0].includes('GLTFExporter')) return
      warn.apply(console, args)
    }
  }
  shimUsers++
  g.FileReader = BlobFileReader
  return () => {
    shimUsers--
    if (shimUsers === 0) {
      delete g.FileReader
      if (savedWarn) console.warn = savedWarn
      savedWarn = null
    }
  }
}

/** Encodes a cloud as GLB bytes. `pointSize` goes into the material (viewers may ignore it). */
export async function encodeGlb(positions: Float32Array, colors: Float32Array | undefined, options: { pointSize?: number; name?: string } = {}): Promise<Uint8Array> {
  if (!(positions instanceof Float32Array) || positions.length % 3 !== 0) {
    throw new DiffuseError('INVALID_ARGUMENT', 'Expected positions to be a Float32Array of xyz triples')
  }
  if (colors !== undefined && (!(colors instanceof Float32Array) || colors.length !== positions.length)) {
    throw new DiffuseError('INVALID_ARGUMENT', 'Expected colors to be a Float32Array with the positions\' length')
  }
  if (positions.length === 0) throw new DiffuseError('INVALID_ARGUMENT', 'A GLB needs at least one point')
  const geometry = new BufferGeometry()
  geometry.setAttribute('position', new Float32BufferAttribute(positions.slice(), 3))
  if (colors) {
    const linear = new Float32Array(colors.length)
    for (let i = 0; i < colors.length; i++) linear[i] = srgbToLinear(Math.min(Math.max(colors[i]!, 0), 1))
    geometry.setAttribute('color', new Float32BufferAttribute(linear, 3))
  }
  const material = new PointsMaterial({ size: options.pointSize ?? 0.02, vertexColors: colors !== undefined })
  const points = new Points(geometry, material)
  points.name = options.name ?? 'pointcloud'
  const scene = new Scene()
  scene.add(points)
  const remove = installShim()
  try {
    const out = await new GLTFExporter().parseAsync(scene, { binary: true })
    if (!(out instanceof ArrayBuffer)) throw new DiffuseError('UNSUPPORTED', 'GLTFExporter returned JSON where a GLB was asked for')
    return new Uint8Array(out)
  } finally {
    remove()
    geometry.dispose()
    material.dispose()
  }
}
