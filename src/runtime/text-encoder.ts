import { Tensor } from 'onnxruntime-common'
import { DiffuseError } from '../errors.js'
import { createSession, inputMetadata, type InferenceSession, type SessionOptions } from './onnx.js'

/**
 * A CLIP-style text encoder graph (Optimum / diffusers layout): `input_ids` [B, L] (int32 or int64,
 * read from the graph) -> `last_hidden_state` [B, L, D]. Both published variants of the input type
 * run unchanged.
 */
export class OnnxTextEncoder {
  readonly file: string
  /** element type of input_ids in this graph */
  readonly idsType: 'int32' | 'int64'
  /** the fixed sequence length of the graph, when it has one */
  readonly sequenceLength?: number
  /** hidden size D, when the graph declares it */
  readonly hiddenSize?: number
  private session: InferenceSession | null
  private readonly inputName: string
  private readonly outputName: string

  private constructor(file: string, session: InferenceSession) {
    this.file = file
    this.session = session
    const inputName = session.inputNames.includes('input_ids') ? 'input_ids' : session.inputNames[0]
    const meta = inputName === undefined ? undefined : inputMetadata(session, inputName)
    if (!inputName || !meta || meta.shape.length !== 2) {
      throw new DiffuseError('MODEL_IO', `${file} does not have the text encoder interface: expected input "input_ids" [batch, length], found [${session.inputNames.join(', ')}]`, {
        details: { file },
      })
    }
    if (meta.type !== 'int32' && meta.type !== 'int64') {
      throw new DiffuseError('MODEL_IO', `${file}: input_ids has type ${meta.type}; expected int32 or int64`, { details: { file } })
    }
    this.inputName = inputName
    this.idsType = meta.type
    const len = meta.shape[1]
    if (typeof len === 'number' && len > 0) this.sequenceLength = len
    this.outputName = session.outputNames.includes('last_hidden_state') ? 'last_hidden_state' : session.outputNames[0]!
    const out = session.outputMetadata.find((m) => m.name === this.outputName)
    const d = out && out.isTensor ? out.shape[2] : undefined
    if (typeof d === 'number' && d > 0) this.hiddenSize = d
  }

  static async create(file: string, options: SessionOptions = {}): Promise<OnnxTextEncoder> {
    const session = await createSession(file, options)
    try {
      return new OnnxTextEncoder(file, session)
    } catch (e) {
      await session.release()
      throw e
    }
  }

  /** Encodes rows of token ids (all of one length) to a float32 [B, L, D] tensor. */
  async encode(rows: readonly Int32Array[]): Promise<Tensor> {
    const session = this.session
    if (!session) throw new DiffuseError('DISPOSED', `The text encoder ${this.file} was disposed`)
    const batch = rows.length
    const length = rows[0]?.length ?? 0
    if (batch === 0 || rows.some((r) => r.length !== length)) {
      throw new DiffuseError('INVALID_ARGUMENT', 'Expected one or more rows of token ids of equal length')
    }
    const ids =
      this.idsType === 'int64'
        ? new Tensor('int64', BigInt64Array.from(rows.flatMap((r) => Array.from(r, (v) => BigInt(v)))), [batch, length])
        : new Tensor('int32', Int32Array.from(rows.flatMap((r) => Array.from(r))), [batch, length])
    let out: Record<string, Tensor>
    try {
      out = (await session.run({ [this.inputName]: ids }, [this.outputName])) as Record<string, Tensor>
    } catch (e) {
      throw new DiffuseError('MODEL_IO', `Running ${this.file} on [${batch}, ${length}] token ids failed: ${(e as Error).message}`, {
        cause: e,
        details: { file: this.file },
      })
    }
    const h = out[this.outputName]!
    if (h.type !== 'float32' || h.dims.length !== 3 || h.dims[0] !== batch || h.dims[1] !== length) {
      throw new DiffuseError('SHAPE_MISMATCH', `${this.file} returned ${h.type}[${h.dims.join(', ')}]; expected float32 [${batch}, ${length}, hidden]`, {
        details: { file: this.file },
      })
    }
    return h
  }

  async dispose(): Promise<void> {
    const s = this.session
    this.session = null
    if (s) await s.release()
  }
}
