import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { Tensor } from 'onnxruntime-common'
import { DiffuseError } from '../errors.js'
import type { Generator } from '../core/rng/types.js'
import { readJsonObject } from './json-file.js'
import { createSession, inputMetadata, type InferenceSession, type SessionOptions } from './onnx.js'

/**
 * The VAE of a latent diffusion model as Optimum / diffusers export it: `vae_encoder/model.onnx`
 * (sample in [-1, 1] -> latent_sample, or latent_parameters = mean ‖ logvar) and
 * `vae_decoder/model.onnx` (latent_sample -> sample). The graphs work in the VAE's own latent space;
 * the diffusion model works in latents × scaling_factor (minus shift_factor, where a config has it),
 * so the conversion lives here and callers only see diffusion latents.
 */
export interface VaeConfig {
  /** diffusers `scaling_factor` (SD 1.x/2.x: 0.18215) */
  readonly scalingFactor: number
  /** diffusers `shift_factor` (0 for SD 1.x/2.x) */
  readonly shiftFactor: number
  readonly latentChannels: number
  /** image pixels per latent pixel: 2^(len(block_out_channels) - 1), as diffusers computes it */
  readonly spatialFactor: number
}

/** Reads the VAE config from vae_decoder/config.json or vae_encoder/config.json (SD 1.x defaults otherwise). */
export async function readVaeConfig(root: string): Promise<VaeConfig> {
  let cfg: Record<string, unknown> = {}
  for (const c of ['vae_decoder', 'vae_encoder', 'vae']) {
    const f = join(root, c, 'config.json')
    if (existsSync(f)) {
      cfg = await readJsonObject(f)
      break
    }
  }
  const num = (k: string, fallback: number, ok: (v: number) => boolean): number => {
    const v = cfg[k]
    if (v === undefined || v === null) return fallback
    if (typeof v !== 'number' || !ok(v)) throw new DiffuseError('INVALID_CONFIG', `VAE config "${k}" is ${JSON.stringify(v)}; expected a valid number`)
    return v
  }
  const blocks = cfg.block_out_channels
  const spatialFactor = Array.isArray(blocks) && blocks.length > 0 ? 2 ** (blocks.length - 1) : 8
  return {
    scalingFactor: num('scaling_factor', 0.18215, (v) => Number.isFinite(v) && v > 0),
    shiftFactor: num('shift_factor', 0, Number.isFinite),
    latentChannels: num('latent_channels', 4, (v) => Number.isInteger(v) && v > 0),
    spatialFactor,
  }
}

function pickName(names: readonly string[], wanted: readonly string[]): string | undefined {
  return wanted.find((n) => names.includes(n)) ?? names[0]
}

async function runOne(session: InferenceSession, file: string, feeds: Record<string, Tensor>, output: string): Promise<Tensor> {
  try {
    const out = (await session.run(feeds, [output])) as Record<string, Tensor>
    return out[output]!
  } catch (e) {
    throw new DiffuseError('MODEL_IO', `Running ${file} failed: ${(e as Error).message}`, { cause: e, details: { file } })
  }
}

export class OnnxVaeDecoder {
  readonly file: string
  readonly config: VaeConfig
  private session: InferenceSession | null
  private readonly inputName: string
  private readonly outputName: string

  private constructor(file: string, session: InferenceSession, config: VaeConfig) {
    this.file = file
    this.session = session
    this.config = config
    this.inputName = pickName(session.inputNames, ['latent_sample', 'latent', 'z'])!
    this.outputName = pickName(session.outputNames, ['sample'])!
    const meta = inputMetadata(session, this.inputName)
    if (!meta || meta.shape.length !== 4) {
      throw new DiffuseError('MODEL_IO', `${file} does not have the VAE decoder interface: expected input "latent_sample" [batch, channels, height, width]`, {
        details: { file },
      })
    }
    const c = meta.shape[1]
    if (typeof c === 'number' && c !== config.latentChannels) {
      throw new DiffuseError('MODEL_IO', `${file} takes ${c} latent channels but the VAE config says latent_channels ${config.latentChannels}`, { details: { file } })
    }
  }

  static async create(file: string, config: VaeConfig, options: SessionOptions = {}): Promise<OnnxVaeDecoder> {
    const session = await createSession(file, options)
    try {
      return new OnnxVaeDecoder(file, session, config)
    } catch (e) {
      await session.release()
      throw e
    }
  }

  /**
   * Decodes diffusion latents [B, C, h, w] to images [B, 3, h·f, w·f] in about [-1, 1]. One image per
   * run, as diffusers' ONNX pipelines do, so memory stays that of one image for big models.
   */
  async decode(latents: Float32Array, shape: readonly number[]): Promise<{ data: Float32Array; shape: number[] }> {
    const session = this.session
    if (!session) throw new DiffuseError('DISPOSED', `The VAE decoder ${this.file} was disposed`)
    const [b, c, h, w] = shape as [number, number, number, number]
    const per = c * h * w
    const { scalingFactor, shiftFactor } = this.config
    let out: Float32Array | undefined
    let outShape: number[] = []
    for (let i = 0; i < b; i++) {
      const z = new Float32Array(per)
      for (let j = 0; j < per; j++) z[j] = latents[i * per + j]! / scalingFactor + shiftFactor
      const img = await runOne(session, this.file, { [this.inputName]: new Tensor('float32', z, [1, c, h, w]) }, this.outputName)
      if (img.type !== 'float32' || img.dims.length !== 4 || img.dims[0] !== 1 || img.dims[1] !== 3) {
        throw new DiffuseError('SHAPE_MISMATCH', `${this.file} returned ${img.type}[${img.dims.join(', ')}]; expected float32 [1, 3, height, width]`, {
          details: { file: this.file },
        })
      }
      const data = img.data as Float32Array
      if (!out) {
        out = new Float32Array(b * data.length)
        outShape = [b, ...img.dims.slice(1)]
      }
      out.set(data, i * data.length)
    }
    return { data: out!, shape: outShape }
  }

  async dispose(): Promise<void> {
    const s = this.session
    this.session = null
    if (s) await s.release()
  }
}

export class OnnxVaeEncoder {
  readonly file: string
  readonly config: VaeConfig
  /** which of the two published outputs this graph has */
  readonly output: 'latent_sample' | 'latent_parameters'
  private session: InferenceSession | null
  private readonly inputName: string

  private constructor(file: string, session: InferenceSession, config: VaeConfig) {
    this.file = file
    this.session = session
    this.config = config
    this.inputName = pickName(session.inputNames, ['sample', 'image', 'x'])!
    if (session.outputNames.includes('latent_parameters')) this.output = 'latent_parameters'
    else if (session.outputNames.includes('latent_sample')) this.output = 'latent_sample'
    else {
      throw new DiffuseError('MODEL_IO', `${file} does not have the VAE encoder interface: expected output "latent_sample" or "latent_parameters", found [${session.outputNames.join(', ')}]`, {
        details: { file },
      })
    }
  }

  static async create(file: string, config: VaeConfig, options: SessionOptions = {}): Promise<OnnxVaeEncoder> {
    const session = await createSession(file, options)
    try {
      return new OnnxVaeEncoder(file, session, config)
    } catch (e) {
      await session.release()
      throw e
    }
  }

  /**
   * Encodes images [B, 3, H, W] in [-1, 1] to diffusion latents (scaled). With `latent_parameters`
   * the latent is drawn from the posterior N(mean, exp(logvar)) with image i's generator, as
   * diffusers' `latent_dist.sample(generator)` does (logvar clamped to [-30, 20]).
   */
  async encode(images: Float32Array, shape: readonly number[], generators: readonly Generator[]): Promise<{ data: Float32Array; shape: number[] }> {
    const session = this.session
    if (!session) throw new DiffuseError('DISPOSED', `The VAE encoder ${this.file} was disposed`)
    const [b, c, h, w] = shape as [number, number, number, number]
    const per = c * h * w
    const C = this.config.latentChannels
    const { scalingFactor, shiftFactor } = this.config
    let out: Float32Array | undefined
    let outShape: number[] = []
    for (let i = 0; i < b; i++) {
      const x = images.slice(i * per, (i + 1) * per)
      const r = await runOne(session, this.file, { [this.inputName]: new Tensor('float32', x, [1, c, h, w]) }, this.output)
      const want = this.output === 'latent_parameters' ? 2 * C : C
      if (r.type !== 'float32' || r.dims.length !== 4 || r.dims[1] !== want) {
        throw new DiffuseError('SHAPE_MISMATCH', `${this.file} returned ${this.output} ${r.type}[${r.dims.join(', ')}]; expected [1, ${want}, h, w]`, {
          details: { file: this.file },
        })
      }
      const [, , lh, lw] = r.dims as [number, number, number, number]
      const n = C * lh * lw
      const data = r.data as Float32Array
      const z = new Float32Array(n)
      if (this.output === 'latent_parameters') {
        const eps = generators[i]!.randn([1, C, lh, lw])
        for (let j = 0; j < n; j++) {
          const logvar = Math.min(20, Math.max(-30, data[n + j]!))
          z[j] = data[j]! + Math.exp(0.5 * logvar) * eps[j]!
        }
      } else z.set(data.subarray(0, n))
      for (let j = 0; j < n; j++) z[j] = (z[j]! - shiftFactor) * scalingFactor
      if (!out) {
        out = new Float32Array(b * n)
        outShape = [b, C, lh, lw]
      }
      out.set(z, i * n)
    }
    return { data: out!, shape: outShape }
  }

  async dispose(): Promise<void> {
    const s = this.session
    this.session = null
    if (s) await s.release()
  }
}
