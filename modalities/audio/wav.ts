import { randomBytes } from 'node:crypto'
import { readFile, rename, unlink, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { basename, dirname, join } from 'node:path'
import { DiffuseError, invalidArgument } from '../../src/errors.js'
import { checkInteger } from '../../src/validate.js'

/**
 * WAV in and out, and sample-rate conversion.
 * - Reading is ours: RIFF/WAVE with PCM 8/16/24/32-bit integers or 32/64-bit floats (plain or
 *   WAVE_FORMAT_EXTENSIBLE), any channel count; anything else is DiffuseError('FILE_FORMAT').
 * - Writing goes through the `wav-encoder` package (16-bit PCM or 32-bit float), to a temporary
 *   file that is renamed into place, so a failed save never leaves a half-written file behind.
 */
export interface AudioData {
  sampleRate: number
  /** One Float32Array per channel, equal lengths, samples nominally in [−1, 1]. */
  channels: Float32Array[]
}

/** Guards against absurd headers: 64 channels, 1 MHz, 2^31 samples per channel. */
const MAX_CHANNELS = 64
const MAX_SAMPLE_RATE = 1_000_000
const MAX_FRAMES = 2 ** 31 - 1

const FORMAT_PCM = 0x0001
const FORMAT_FLOAT = 0x0003
const FORMAT_EXTENSIBLE = 0xfffe
const FORMAT_NAMES: Record<number, string> = {
  0x0002: 'Microsoft ADPCM',
  0x0006: 'A-law',
  0x0007: 'µ-law',
  0x0011: 'IMA ADPCM',
  0x0031: 'GSM 6.10',
  0x0050: 'MPEG',
  0x0055: 'MP3',
}
/** The GUID tail shared by the KSDATAFORMAT_SUBTYPE_* formats in WAVE_FORMAT_EXTENSIBLE. */
const GUID_TAIL = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71]

function formatError(message: string, details?: Record<string, unknown>): DiffuseError {
  return new DiffuseError('FILE_FORMAT', `Malformed or unsupported WAV: ${message}`, details ? { details } : undefined)
}

function toBytes(input: unknown): Uint8Array {
  if (input instanceof Uint8Array) return input
  if (input instanceof ArrayBuffer) return new Uint8Array(input)
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength)
  throw invalidArgument('wav', 'a Uint8Array, Buffer or ArrayBuffer', input)
}

/** Decodes WAV bytes into float channels. Throws DiffuseError('FILE_FORMAT') for anything malformed. */
export function decodeWav(input: Uint8Array | ArrayBuffer): AudioData {
  const bytes = toBytes(input)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const tag = (o: number): string => String.fromCharCode(bytes[o]!, bytes[o + 1]!, bytes[o + 2]!, bytes[o + 3]!)
  if (bytes.length < 12) throw formatError(`file is ${bytes.length} bytes, shorter than a RIFF header (12)`)
  if (tag(0) === 'RIFX') throw formatError('big-endian RIFX files are not supported')
  if (tag(0) !== 'RIFF' || tag(8) !== 'WAVE') throw formatError(`expected "RIFF....WAVE" at the start, found ${JSON.stringify(tag(0))}/${JSON.stringify(tag(8))}`)

  let fmt: { format: number; channels: number; sampleRate: number; blockAlign: number; bits: number } | undefined
  let offset = 12
  while (offset + 8 <= bytes.length) {
    const id = tag(offset)
    const size = view.getUint32(offset + 4, true)
    const body = offset + 8
    if (id === 'fmt ') {
      if (size < 16 || body + size > bytes.length) throw formatError(`"fmt " chunk of ${size} bytes is too short or truncated`)
      let format = view.getUint16(body, true)
      const channels = view.getUint16(body + 2, true)
      const sampleRate = view.getUint32(body + 4, true)
      const blockAlign = view.getUint16(body + 12, true)
      const bits = view.getUint16(body + 14, true)
      if (format === FORMAT_EXTENSIBLE) {
        if (size < 40) throw formatError(`WAVE_FORMAT_EXTENSIBLE "fmt " chunk is ${size} bytes, expected 40`)
        const sub = view.getUint16(body + 24, true)
        const tail = Array.from(bytes.subarray(body + 26, body + 40))
        if (tail.some((b, i) => b !== GUID_TAIL[i])) throw formatError('WAVE_FORMAT_EXTENSIBLE with a non-standard sub-format GUID')
        format = sub
      }
      fmt = { format, channels, sampleRate, blockAlign, bits }
    } else if (id === 'data') {
      if (!fmt) throw formatError('"data" chunk before the "fmt " chunk')
      return decodeData(bytes, view, body, size, fmt)
    }
    // Chunks are padded to an even size.
    offset = body + size + (size % 2)
  }
  throw formatError(fmt ? 'no "data" chunk (file truncated?)' : 'no "fmt " chunk (file truncated?)')
}

function decodeData(
  bytes: Uint8Array,
  view: DataView,
  start: number,
  size: number,
  fmt: { format: number; channels: number; sampleRate: number; blockAlign: number; bits: number },
): AudioData {
  const { format, channels, sampleRate, blockAlign, bits } = fmt
  if (format !== FORMAT_PCM && format !== FORMAT_FLOAT) {
    const name = FORMAT_NAMES[format] ?? `format code 0x${format.toString(16).padStart(4, '0')}`
    throw formatError(`${name} encoding is not supported (use PCM 8/16/24/32-bit or 32/64-bit float)`, { format })
  }
  if (channels < 1 || channels > MAX_CHANNELS) throw formatError(`${channels} channels (expected 1 to ${MAX_CHANNELS})`)
  if (sampleRate < 1 || sampleRate > MAX_SAMPLE_RATE) throw formatError(`sample rate ${sampleRate} Hz (expected 1 to ${MAX_SAMPLE_RATE})`)
  const okBits = format === FORMAT_PCM ? [8, 16, 24, 32] : [32, 64]
  if (!okBits.includes(bits)) {
    throw formatError(`${bits}-bit ${format === FORMAT_PCM ? 'PCM' : 'float'} is not supported (expected ${okBits.join('/')})`)
  }
  const width = bits / 8
  if (blockAlign !== width * channels) throw formatError(`block align ${blockAlign} does not match ${channels} channels × ${width} bytes`)
  const available = bytes.length - start
  if (size > available) throw formatError(`"data" chunk declares ${size} bytes but only ${available} follow (file truncated)`, { declared: size, available })
  if (size % blockAlign !== 0) throw formatError(`"data" chunk of ${size} bytes is not a whole number of ${blockAlign}-byte frames (file truncated)`)
  const frames = size / blockAlign
  if (frames === 0) throw formatError('the "data" chunk holds no samples')
  if (frames > MAX_FRAMES) throw formatError(`${frames} frames is too many`)
  const out = Array.from({ length: channels }, () => new Float32Array(frames))
  let o = start
  for (let f = 0; f < frames; f++) {
    for (let c = 0; c < channels; c++) {
      let v: number
      if (format === FORMAT_FLOAT) {
        v = bits === 32 ? view.getFloat32(o, true) : view.getFloat64(o, true)
        // NaN/Inf (or a 64-bit value beyond float32's range) is corrupt data, not sound: refuse it here
        // rather than let it poison a pipeline
        if (!Number.isFinite(Math.fround(v))) throw formatError(`sample ${f} of channel ${c} is ${v} (a float WAV must hold finite float32-range samples)`, { frame: f, channel: c })
      } else if (bits === 8) v = (bytes[o]! - 128) / 128
      else if (bits === 16) v = view.getInt16(o, true) / 32768
      else if (bits === 24) v = (((bytes[o]! | (bytes[o + 1]! << 8) | (bytes[o + 2]! << 16)) << 8) >> 8) / 8388608
      else v = view.getInt32(o, true) / 2147483648
      out[c]![f] = v
      o += width
    }
  }
  return { sampleRate, channels: out }
}

/** Reads a WAV file (path) or decodes bytes. Missing file: FILE_NOT_FOUND; malformed: FILE_FORMAT. */
export async function readWav(input: string | Uint8Array | ArrayBuffer): Promise<AudioData> {
  if (typeof input !== 'string') return decodeWav(input)
  let bytes: Uint8Array
  try {
    bytes = await readFile(input)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new DiffuseError('FILE_NOT_FOUND', `WAV file not found: ${input}`, { cause: e })
    throw new DiffuseError('IO', `Cannot read ${input}: ${(e as Error).message}`, { cause: e })
  }
  try {
    return decodeWav(bytes)
  } catch (e) {
    if (e instanceof DiffuseError) throw new DiffuseError(e.code, `${input}: ${e.message}`, { cause: e, details: e.details })
    throw e
  }
}

export interface EncodeWavOptions {
  /** 'pcm16' (default) or 'float32'. */
  format?: 'pcm16' | 'float32'
}

/** Validates AudioData (sample rate, equal-length finite channels). */
export function checkAudio(audio: unknown): AudioData {
  const a = audio as AudioData
  if (a === null || typeof a !== 'object' || !Array.isArray(a.channels)) throw invalidArgument('audio', 'an object {sampleRate, channels: Float32Array[]}', audio)
  checkInteger('audio.sampleRate', a.sampleRate, 1, MAX_SAMPLE_RATE)
  if (a.channels.length < 1 || a.channels.length > MAX_CHANNELS) throw invalidArgument('audio.channels', `1 to ${MAX_CHANNELS} channels`, a.channels)
  const len = a.channels[0]?.length
  for (const ch of a.channels) {
    if (!(ch instanceof Float32Array)) throw invalidArgument('audio.channels[i]', 'a Float32Array', ch)
    if (ch.length !== len) throw invalidArgument('audio.channels', 'channels of equal length', a.channels)
    for (let i = 0; i < ch.length; i++) {
      if (!Number.isFinite(ch[i])) {
        throw new DiffuseError('INVALID_ARGUMENT', `Expected finite samples but sample ${i} is ${ch[i]}`, { details: { argument: 'audio.channels' } })
      }
    }
  }
  if (!len) throw invalidArgument('audio.channels', 'at least one sample', a.channels)
  return a
}

interface WavEncoder {
  encode: { sync(data: { sampleRate: number; channelData: Float32Array[] }, opts?: { bitDepth?: number; float?: boolean }): ArrayBuffer }
}
let encoder: WavEncoder | undefined

/** Encodes audio as a WAV file's bytes (through wav-encoder): 16-bit PCM (clipped) or 32-bit float. */
export function encodeWav(audio: AudioData, opts: EncodeWavOptions = {}): Uint8Array {
  const a = checkAudio(audio)
  const format = opts.format ?? 'pcm16'
  if (format !== 'pcm16' && format !== 'float32') throw invalidArgument('format', '"pcm16" or "float32"', format)
  encoder ??= createRequire(import.meta.url)('wav-encoder') as WavEncoder
  const buf = encoder.encode.sync({ sampleRate: a.sampleRate, channelData: a.channels }, format === 'float32' ? { float: true } : { bitDepth: 16 })
  return new Uint8Array(buf)
}

/**
 * Writes audio to `path` as WAV. The bytes go to a temporary file beside it that is then renamed
 * over the target, so an existing file is replaced only by a complete new one. Errors: IO.
 */
export async function writeWav(path: string, audio: AudioData, opts: EncodeWavOptions = {}): Promise<void> {
  if (typeof path !== 'string' || path === '') throw invalidArgument('path', 'a non-empty file path', path)
  const bytes = encodeWav(audio, opts)
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  try {
    await writeFile(tmp, bytes, { flag: 'wx' })
    await rename(tmp, path)
  } catch (e) {
    await unlink(tmp).catch(() => undefined)
    throw new DiffuseError('IO', `Cannot write ${path}: ${(e as Error).message}`, { cause: e })
  }
}

/** Averages all channels into one (pydub's set_channels(1)). */
export function toMono(audio: AudioData): AudioData {
  const a = checkAudio(audio)
  if (a.channels.length === 1) return a
  const n = a.channels[0]!.length
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) {
    let s = 0
    for (const ch of a.channels) s += ch[i]!
    out[i] = s / a.channels.length
  }
  return { sampleRate: a.sampleRate, channels: [out] }
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b]
  return a
}

/** Modified Bessel function I0 (series), for the Kaiser window. */
function besselI0(x: number): number {
  let sum = 1
  let term = 1
  const q = (x * x) / 4
  for (let k = 1; k < 200; k++) {
    term *= q / (k * k)
    sum += term
    if (term < sum * 1e-17) break
  }
  return sum
}

export interface ResampleOptions {
  /** Zero crossings of the sinc on each side (default 32: ~0.5% transition band at rolloff 0.95). */
  zeros?: number
  /** Cut-off as a fraction of the lower Nyquist frequency (default 0.95). */
  rolloff?: number
  /** Kaiser window β (default 10: stopband below −100 dB). */
  beta?: number
}

/**
 * Band-limited resampling of one channel by a Kaiser-windowed sinc, evaluated polyphase: the ratio
 * to/from is reduced to L/M and the L filter phases are tabulated once (computed per output sample
 * instead when L·taps would be huge, e.g. 44100 → 44099 Hz). Output length ceil(n·to/from).
 */
export function resample(signal: Float32Array, fromRate: number, toRate: number, opts: ResampleOptions = {}): Float32Array {
  if (!(signal instanceof Float32Array)) throw invalidArgument('signal', 'a Float32Array', signal)
  checkInteger('fromRate', fromRate, 1, MAX_SAMPLE_RATE)
  checkInteger('toRate', toRate, 1, MAX_SAMPLE_RATE)
  const zeros = opts.zeros === undefined ? 32 : checkInteger('zeros', opts.zeros, 2, 1024)
  const rolloff = opts.rolloff ?? 0.95
  if (typeof rolloff !== 'number' || !(rolloff > 0 && rolloff <= 1)) throw invalidArgument('rolloff', 'a number in (0, 1]', rolloff)
  const beta = opts.beta ?? 10
  if (typeof beta !== 'number' || !(beta >= 0 && beta < 100)) throw invalidArgument('beta', 'a number in [0, 100)', beta)
  if (fromRate === toRate) return signal.slice()
  const n = signal.length
  const outLen = Math.ceil((n * toRate) / fromRate)
  if (outLen > MAX_FRAMES) throw invalidArgument('toRate', 'a rate giving fewer than 2^31 samples', toRate)
  const g = gcd(fromRate, toRate)
  const L = toRate / g // output step in units of 1/L input samples: position of output j = j·M/L
  const M = fromRate / g
  // Cut-off relative to the input rate: the lower of the two Nyquist frequencies.
  const fc = (rolloff * Math.min(1, toRate / fromRate)) / 2 // cycles per input sample
  const half = Math.ceil(zeros / (2 * fc)) // filter half-width in input samples
  const i0b = besselI0(beta)
  const kernel = (x: number): number => {
    // x: distance in input samples
    if (Math.abs(x) >= half) return 0
    const r = x / half
    const w = besselI0(beta * Math.sqrt(Math.max(0, 1 - r * r))) / i0b
    const a = 2 * fc * x
    const sinc = a === 0 ? 1 : Math.sin(Math.PI * a) / (Math.PI * a)
    return 2 * fc * sinc * w
  }
  const taps = 2 * half
  const tabulate = L * taps <= 4_000_000
  let table: Float64Array | undefined
  if (tabulate) {
    table = new Float64Array(L * taps)
    for (let p = 0; p < L; p++) {
      const frac = p / L // output position = base + frac
      for (let k = 0; k < taps; k++) table[p * taps + k] = kernel(frac - (k - half + 1))
    }
  }
  const out = new Float32Array(outLen)
  for (let j = 0; j < outLen; j++) {
    const num = j * M // position j·M/L in input samples, as integer base + phase/L
    const base = Math.floor(num / L)
    const phase = num - base * L
    let acc = 0
    const first = base - half + 1
    for (let k = 0; k < taps; k++) {
      const idx = first + k
      if (idx < 0 || idx >= n) continue
      const h = table ? table[phase * taps + k]! : kernel(phase / L - (k - half + 1))
      acc += h * signal[idx]!
    }
    out[j] = acc
  }
  return out
}

/** Resamples every channel of `audio` to `toRate`. */
export function resampleAudio(audio: AudioData, toRate: number, opts: ResampleOptions = {}): AudioData {
  const a = checkAudio(audio)
  checkInteger('toRate', toRate, 1, MAX_SAMPLE_RATE)
  if (a.sampleRate === toRate) return { sampleRate: toRate, channels: a.channels.map((c) => c.slice()) }
  return { sampleRate: toRate, channels: a.channels.map((c) => resample(c, a.sampleRate, toRate, opts)) }
}
