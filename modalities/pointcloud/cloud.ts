import { promises as fs } from 'node:fs'
import { extname } from 'node:path'
import { DiffuseError, invalidArgument } from '../../src/errors.js'
import type { GenerationRecord } from '../../src/runtime/pipeline.js'
import { writeFileAtomic } from './files.js'
import { encodeGlb } from './glb.js'
import { previewHtml, type PreviewFrame, type PreviewOptions } from './html.js'
import { encodePly, parsePly, type PlyWriteOptions } from './ply.js'

export interface SaveOptions extends PlyWriteOptions, Omit<PreviewOptions, 'trajectory'> {
  /** .html: include the denoising trajectory when the cloud has one (default true) */
  includeTrajectory?: boolean
}

/**
 * A point cloud: N points with xyz and optional rgb in [0, 1] (sRGB), interleaved. Models see clouds
 * as [C, N] channel-major tensors (Point-E's layout: C = 3 or 6); `fromChannels` / `toChannels`
 * convert. Instances never modify the arrays they were given (they copy).
 */
export class PointCloud {
  /** x0 y0 z0 x1 y1 z1 ... */
  readonly positions: Float32Array
  /** r0 g0 b0 ... in [0, 1], or undefined */
  readonly colors: Float32Array | undefined
  /** the sampler's clean-sample estimates per step (oldest first), when generation recorded them */
  readonly trajectory: readonly PreviewFrame[] | undefined
  /** what reproduces a generated cloud (`generate(record)`), when it was generated */
  readonly record: GenerationRecord | undefined

  constructor(positions: Float32Array, colors?: Float32Array, extra: { trajectory?: readonly PreviewFrame[]; record?: GenerationRecord } = {}) {
    if (!(positions instanceof Float32Array) || positions.length % 3 !== 0) {
      throw invalidArgument('positions', 'a Float32Array of xyz triples (length a multiple of 3)', positions)
    }
    if (colors !== undefined && (!(colors instanceof Float32Array) || colors.length !== positions.length)) {
      throw new DiffuseError('INVALID_ARGUMENT', `Expected colors to be a Float32Array of length ${positions.length} (rgb per point) but received ${colors instanceof Float32Array ? `length ${colors.length}` : typeof colors}`)
    }
    this.positions = positions.slice()
    this.colors = colors?.slice()
    this.trajectory = extra.trajectory
    this.record = extra.record
  }

  get count(): number {
    return this.positions.length / 3
  }

  /**
   * From a channel-major [C, N] block (C = 3: xyz, C = 6: xyz rgb), e.g. one item of a model's
   * [B, C, N] output. `colorRange` is the range the model's colour channels use ([-1, 1] for the
   * bundled model); colours are mapped to [0, 1] and clamped.
   */
  static fromChannels(data: Float32Array, channels: number, points: number, options: { colorRange?: readonly [number, number]; offset?: number } = {}): PointCloud {
    if (channels !== 3 && channels !== 6) throw invalidArgument('channels', '3 (xyz) or 6 (xyz rgb)', channels)
    const off = options.offset ?? 0
    if (!(data instanceof Float32Array) || data.length < off + channels * points) {
      throw new DiffuseError('SHAPE_MISMATCH', `Expected at least ${off + channels * points} values for a [${channels}, ${points}] cloud`)
    }
    const [lo, hi] = options.colorRange ?? [0, 1]
    const pos = new Float32Array(3 * points)
    const col = channels === 6 ? new Float32Array(3 * points) : undefined
    for (let c = 0; c < 3; c++) for (let i = 0; i < points; i++) pos[3 * i + c] = data[off + c * points + i]!
    if (col) {
      for (let c = 0; c < 3; c++) {
        for (let i = 0; i < points; i++) {
          const v = (data[off + (3 + c) * points + i]! - lo) / (hi - lo)
          col[3 * i + c] = Math.min(Math.max(v, 0), 1)
        }
      }
    }
    return new PointCloud(pos, col)
  }

  /** The channel-major [C, N] form (C = 6 with colours mapped to `colorRange`, else 3). */
  toChannels(options: { colorRange?: readonly [number, number] } = {}): { data: Float32Array; channels: number; points: number } {
    const n = this.count
    const channels = this.colors ? 6 : 3
    const [lo, hi] = options.colorRange ?? [0, 1]
    const data = new Float32Array(channels * n)
    for (let c = 0; c < 3; c++) for (let i = 0; i < n; i++) data[c * n + i] = this.positions[3 * i + c]!
    if (this.colors) for (let c = 0; c < 3; c++) for (let i = 0; i < n; i++) data[(3 + c) * n + i] = lo + this.colors[3 * i + c]! * (hi - lo)
    return { data, channels, points: n }
  }

  toPLY(options: PlyWriteOptions = {}): Uint8Array {
    return encodePly(this.positions, this.colors, options)
  }

  toGLB(options: { pointSize?: number; name?: string } = {}): Promise<Uint8Array> {
    return encodeGlb(this.positions, this.colors, options)
  }

  toHTML(options: PreviewOptions = {}): string {
    return previewHtml(this.positions, this.colors, { ...(this.trajectory ? { trajectory: this.trajectory } : {}), ...options })
  }

  /** Writes .ply, .glb or .html by the path's extension, atomically (a temporary file, then rename). */
  async save(path: string, options: SaveOptions = {}): Promise<void> {
    if (typeof path !== 'string' || path === '') throw invalidArgument('path', 'a file path ending in .ply, .glb or .html', path)
    const ext = extname(path).toLowerCase()
    let bytes: Uint8Array | string
    if (ext === '.ply') bytes = this.toPLY(options)
    else if (ext === '.glb') bytes = await this.toGLB(options)
    else if (ext === '.html' || ext === '.htm') {
      const { includeTrajectory = true, ...rest } = options
      bytes = previewHtml(this.positions, this.colors, {
        ...rest,
        ...(includeTrajectory && this.trajectory ? { trajectory: this.trajectory } : {}),
      })
    } else throw new DiffuseError('INVALID_ARGUMENT', `Expected path to end in .ply, .glb or .html but received ${JSON.stringify(path)}`)
    await writeFileAtomic(path, bytes)
  }

  /** Reads a PLY file (ascii or binary, see parsePly). */
  static async load(path: string): Promise<PointCloud> {
    if (typeof path !== 'string' || path === '') throw invalidArgument('path', 'a .ply file path', path)
    let bytes: Uint8Array
    try {
      bytes = await fs.readFile(path)
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (code === 'ENOENT') throw new DiffuseError('FILE_NOT_FOUND', `No such file: ${path}`, { cause: e })
      throw new DiffuseError('IO', `Could not read ${path}: ${(e as Error).message}`, { cause: e })
    }
    return PointCloud.fromPLY(bytes, path)
  }

  static fromPLY(bytes: Uint8Array | ArrayBuffer, source = 'PLY data'): PointCloud {
    const ply = parsePly(bytes, source)
    return new PointCloud(ply.positions, ply.colors)
  }
}
