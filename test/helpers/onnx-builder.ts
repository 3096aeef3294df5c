/**
 * A minimal ONNX (protobuf) writer for tests: just enough of ModelProto to build small graphs of
 * standard operators, so tests exercise real onnxruntime sessions without Python.
 * Field numbers follow onnx.proto3.
 */

class Writer {
  private chunks: number[] = []
  varint(v: number | bigint): this {
    let x = BigInt.asUintN(64, BigInt(v))
    do {
      let b = Number(x & 0x7fn)
      x >>= 7n
      if (x) b |= 0x80
      this.chunks.push(b)
    } while (x)
    return this
  }
  key(field: number, wire: number): this {
    return this.varint((field << 3) | wire)
  }
  int(field: number, v: number | bigint): this {
    return this.key(field, 0).varint(v)
  }
  bytes(field: number, data: Uint8Array): this {
    this.key(field, 2).varint(data.length)
    for (const b of data) this.chunks.push(b)
    return this
  }
  str(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s))
  }
  msg(field: number, w: Writer): this {
    return this.bytes(field, w.finish())
  }
  float(field: number, v: number): this {
    this.key(field, 5)
    const b = new Uint8Array(new Float32Array([v]).buffer)
    for (const x of b) this.chunks.push(x)
    return this
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.chunks)
  }
}

export const DT = { float: 1, int32: 6, int64: 7 } as const
export type Dim = number | string

export interface ValueInfo {
  name: string
  type: number
  /** undefined: no shape recorded; [] a scalar */
  shape?: Dim[]
}

export interface NodeSpec {
  op: string
  inputs: string[]
  outputs: string[]
  attrs?: Record<string, number | number[] | string>
}

export interface Initializer {
  name: string
  type: number
  dims: number[]
  values: number[]
}

function valueInfo(v: ValueInfo): Writer {
  const tensor = new Writer().int(1, v.type)
  if (v.shape) {
    const shape = new Writer()
    for (const d of v.shape) shape.msg(1, typeof d === 'number' ? new Writer().int(1, d) : new Writer().str(2, d))
    tensor.msg(2, shape)
  }
  return new Writer().str(1, v.name).msg(2, new Writer().msg(1, tensor))
}

function node(n: NodeSpec, i: number): Writer {
  const w = new Writer()
  for (const x of n.inputs) w.str(1, x)
  for (const x of n.outputs) w.str(2, x)
  w.str(3, `n${i}_${n.op}`).str(4, n.op)
  for (const [name, value] of Object.entries(n.attrs ?? {})) {
    const a = new Writer().str(1, name)
    if (typeof value === 'string') a.bytes(4, new TextEncoder().encode(value)).int(20, 3)
    else if (Array.isArray(value)) {
      for (const v of value) a.int(8, v)
      a.int(20, 7)
    } else if (Number.isInteger(value)) a.int(3, value).int(20, 2)
    else a.float(2, value).int(20, 1)
    w.msg(5, a)
  }
  return w
}

function initializer(t: Initializer): Writer {
  const w = new Writer()
  for (const d of t.dims) w.int(1, d)
  w.int(2, t.type).str(8, t.name)
  const raw =
    t.type === DT.float
      ? new Uint8Array(Float32Array.from(t.values).buffer)
      : t.type === DT.int64
        ? new Uint8Array(BigInt64Array.from(t.values.map((v) => BigInt(v))).buffer)
        : new Uint8Array(Int32Array.from(t.values).buffer)
  return w.bytes(9, raw)
}

/** Serialises a single-graph ONNX model (opset 17 by default). */
export function buildModel(spec: {
  inputs: ValueInfo[]
  outputs: ValueInfo[]
  nodes: NodeSpec[]
  initializers?: Initializer[]
  opset?: number
}): Uint8Array {
  const graph = new Writer()
  spec.nodes.forEach((n, i) => graph.msg(1, node(n, i)))
  graph.str(2, 'g')
  for (const t of spec.initializers ?? []) graph.msg(5, initializer(t))
  for (const v of spec.inputs) graph.msg(11, valueInfo(v))
  for (const v of spec.outputs) graph.msg(12, valueInfo(v))
  return new Writer()
    .int(1, 8)
    .str(2, 'diffusekit-tests')
    .msg(7, graph)
    .msg(8, new Writer().str(1, '').int(2, spec.opset ?? 17))
    .finish()
}

/**
 * A tiny unet with the diffusers/Optimum interface: out_sample = a·sample + b·timestep (+ c·mean(cond)),
 * timestep int64 [B], float32 [B] or a float32 scalar.
 */
export function tinyUnet(options: {
  timestep: 'int64' | 'float32' | 'float32-scalar'
  channels?: number
  a?: number
  b?: number
  condition?: 'encoder_hidden_states' | 'class_labels'
}): Uint8Array {
  const a = options.a ?? 0.5
  const b = options.b ?? 0.001
  const c = options.channels ?? 4
  const tType = options.timestep === 'int64' ? DT.int64 : DT.float
  const inputs: ValueInfo[] = [
    { name: 'sample', type: DT.float, shape: ['batch', c, 'height', 'width'] },
    { name: 'timestep', type: tType, shape: options.timestep === 'float32-scalar' ? [] : ['batch'] },
  ]
  const nodes: NodeSpec[] = [
    { op: 'Mul', inputs: ['sample', 'a'], outputs: ['scaled'] },
    { op: 'Cast', inputs: ['timestep'], outputs: ['tf'], attrs: { to: DT.float } },
    { op: 'Reshape', inputs: ['tf', 'shape4'], outputs: ['t4'] },
    { op: 'Mul', inputs: ['t4', 'b'], outputs: ['tb'] },
    { op: 'Add', inputs: ['scaled', 'tb'], outputs: options.condition ? ['partial'] : ['out_sample'] },
  ]
  const initializers: Initializer[] = [
    { name: 'a', type: DT.float, dims: [], values: [a] },
    { name: 'b', type: DT.float, dims: [], values: [b] },
    { name: 'shape4', type: DT.int64, dims: [4], values: [-1, 1, 1, 1] },
  ]
  if (options.condition === 'encoder_hidden_states') {
    inputs.push({ name: 'encoder_hidden_states', type: DT.float, shape: ['batch', 'seq', 'dim'] })
    nodes.push(
      { op: 'ReduceMean', inputs: ['encoder_hidden_states'], outputs: ['cm'], attrs: { axes: [1, 2], keepdims: 0 } },
      { op: 'Reshape', inputs: ['cm', 'shape4'], outputs: ['c4'] },
      { op: 'Add', inputs: ['partial', 'c4'], outputs: ['out_sample'] },
    )
  } else if (options.condition === 'class_labels') {
    inputs.push({ name: 'class_labels', type: DT.int64, shape: ['batch'] })
    nodes.push(
      { op: 'Cast', inputs: ['class_labels'], outputs: ['cf'], attrs: { to: DT.float } },
      { op: 'Reshape', inputs: ['cf', 'shape4'], outputs: ['c4'] },
      { op: 'Add', inputs: ['partial', 'c4'], outputs: ['out_sample'] },
    )
  }
  return buildModel({ inputs, outputs: [{ name: 'out_sample', type: DT.float, shape: ['batch', c, 'height', 'width'] }], nodes, initializers })
}
