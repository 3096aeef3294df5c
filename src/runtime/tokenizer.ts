import { promises as fs } from 'node:fs'
import { join } from 'node:path'
import { Tokenizer } from '@huggingface/tokenizers'
import { DiffuseError, invalidArgument } from '../errors.js'

/**
 * CLIP tokenization as Stable Diffusion uses it: lowercase, whitespace collapsed, CLIP's regex split,
 * byte-level BPE with `</w>` word ends, then <|startoftext|> ids <|endoftext|>, truncated and padded
 * to the model's length. The BPE itself is done by @huggingface/tokenizers: a folder with
 * vocab.json + merges.txt (what Optimum writes) is turned into the tokenizer.json that the
 * `tokenizers` library would save for CLIPTokenizerFast, so both file forms go through one code path.
 */

const BOS = '<|startoftext|>'
const EOS = '<|endoftext|>'
/** CLIP's pre-tokenizer pattern (the one in openai/clip and in HF's CLIP tokenizer.json). */
const CLIP_SPLIT = "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+"

export interface TokenizerConfig {
  /** sequence length the text encoder takes (tokenizer_config.json `model_max_length`; default 77) */
  maxLength?: number
  /** padding token (SD 1.x pads with <|endoftext|>, SD 2.x with "!") */
  padToken?: string
  bosToken?: string
  eosToken?: string
}

export interface TokenizedText {
  /** exactly maxLength ids: BOS, text ids, EOS, padding */
  readonly ids: Int32Array
  /** text tokens before truncation (without BOS/EOS) */
  readonly tokenCount: number
  /** true when text tokens were dropped to fit maxLength */
  readonly truncated: boolean
}

type Json = Record<string, unknown>

/** The tokenizer.json (tokenizers' format) that CLIPTokenizerFast would save for this vocab + merges. */
export function clipTokenizerJson(vocab: Record<string, number>, merges: string[], bos = BOS, eos = EOS): Json {
  const special = (content: string): Json => ({
    id: vocab[content],
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: true,
    special: true,
  })
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [bos, eos].filter((t) => vocab[t] !== undefined).map(special),
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: CLIP_SPLIT }, behavior: 'Removed', invert: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: eos,
      continuing_subword_prefix: '',
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  }
}

/** Parses merges.txt: an optional `#version` line, then one `a b` pair per line. */
export function parseMerges(text: string, source = 'merges.txt'): string[] {
  const out: string[] = []
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    if (line.trim() === '' || (i === 0 && line.startsWith('#version'))) continue
    const parts = line.split(' ')
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
      throw new DiffuseError('FILE_FORMAT', `${source} line ${i + 1}: expected "a b" (two tokens) but found ${JSON.stringify(line.slice(0, 60))}`, {
        details: { file: source, line: i + 1 },
      })
    }
    out.push(line)
  }
  return out
}

export class ClipTokenizer {
  readonly maxLength: number
  readonly bosId: number
  readonly eosId: number
  readonly padId: number
  readonly vocabSize: number
  private readonly tokenizer: Tokenizer

  private constructor(tokenizerJson: Json, config: TokenizerConfig, source: string) {
    const maxLength = config.maxLength ?? 77
    if (!Number.isInteger(maxLength) || maxLength < 2) throw invalidArgument('maxLength', 'an integer >= 2', maxLength)
    checkTokenIds(tokenizerJson, source)
    try {
      this.tokenizer = new Tokenizer(tokenizerJson, {})
    } catch (e) {
      throw new DiffuseError('FILE_FORMAT', `${source}: not a usable tokenizer: ${(e as Error).message}`, { cause: e, details: { file: source } })
    }
    const vocab = this.tokenizer.get_vocab(true)
    const id = (token: string, what: string): number => {
      const v = vocab.get(token)
      if (v === undefined) {
        throw new DiffuseError('FILE_FORMAT', `${source}: the ${what} token ${JSON.stringify(token)} is not in the vocabulary`, {
          details: { file: source, token },
        })
      }
      return v
    }
    this.maxLength = maxLength
    this.bosId = id(config.bosToken ?? BOS, 'start')
    this.eosId = id(config.eosToken ?? EOS, 'end')
    this.padId = id(config.padToken ?? config.eosToken ?? EOS, 'padding')
    this.vocabSize = vocab.size
  }

  /** From CLIP's vocab.json object and merges (lines or the merges.txt text). */
  static fromVocabMerges(vocab: Record<string, number>, merges: string[] | string, config: TokenizerConfig = {}, source = 'vocab.json'): ClipTokenizer {
    if (!vocab || typeof vocab !== 'object' || Array.isArray(vocab)) throw invalidArgument('vocab', 'an object of token -> id', vocab)
    for (const [k, v] of Object.entries(vocab)) {
      if (!Number.isInteger(v) || v < 0) {
        throw new DiffuseError('FILE_FORMAT', `${source}: token ${JSON.stringify(k)} has id ${String(v)}, expected a non-negative integer`, {
          details: { file: source },
        })
      }
    }
    const lines = typeof merges === 'string' ? parseMerges(merges) : merges
    return new ClipTokenizer(clipTokenizerJson(vocab, lines, config.bosToken ?? BOS, config.eosToken ?? EOS), config, source)
  }

  /** From a tokenizer.json (tokenizers' format, e.g. saved by CLIPTokenizerFast). */
  static fromTokenizerJson(json: Json, config: TokenizerConfig = {}, source = 'tokenizer.json'): ClipTokenizer {
    const model = json?.model as Json | undefined
    if (!model || typeof model !== 'object' || typeof model.vocab !== 'object') {
      throw new DiffuseError('FILE_FORMAT', `${source}: expected a tokenizers JSON with a "model" holding a "vocab"`, { details: { file: source } })
    }
    return new ClipTokenizer(json, config, source)
  }

  /**
   * Loads a tokenizer folder: tokenizer.json, or vocab.json + merges.txt; tokenizer_config.json (and
   * special_tokens_map.json) for the length and special tokens. `maxLength` overrides the config
   * (e.g. the text encoder's fixed input length).
   */
  static async fromFolder(dir: string, overrides: TokenizerConfig = {}): Promise<ClipTokenizer> {
    const config: TokenizerConfig = {}
    const tc = (await readJsonIfExists(join(dir, 'tokenizer_config.json'))) ?? {}
    const stm = (await readJsonIfExists(join(dir, 'special_tokens_map.json'))) ?? {}
    const tokenText = (v: unknown): string | undefined =>
      typeof v === 'string' ? v : v && typeof v === 'object' && typeof (v as Json).content === 'string' ? ((v as Json).content as string) : undefined
    const len = tc.model_max_length
    // transformers writes a huge sentinel (1e30) when a tokenizer has no length: keep CLIP's 77 then
    if (typeof len === 'number' && Number.isInteger(len) && len >= 2 && len < 1e6) config.maxLength = len
    config.padToken = tokenText(tc.pad_token) ?? tokenText(stm.pad_token)
    config.bosToken = tokenText(tc.bos_token) ?? tokenText(stm.bos_token)
    config.eosToken = tokenText(tc.eos_token) ?? tokenText(stm.eos_token)
    for (const k of Object.keys(config) as (keyof TokenizerConfig)[]) if (config[k] === undefined) delete config[k]
    Object.assign(config, overrides)
    const tj = await readJsonIfExists(join(dir, 'tokenizer.json'))
    if (tj) return ClipTokenizer.fromTokenizerJson(tj, config, join(dir, 'tokenizer.json'))
    const vocabPath = join(dir, 'vocab.json')
    const mergesPath = join(dir, 'merges.txt')
    const vocab = await readJsonIfExists(vocabPath)
    let merges: string | undefined
    try {
      merges = await fs.readFile(mergesPath, 'utf8')
    } catch {
      merges = undefined
    }
    if (!vocab || merges === undefined) {
      throw new DiffuseError('MODEL_LOAD', `Tokenizer folder ${dir} needs tokenizer.json, or vocab.json and merges.txt (missing ${!vocab ? vocabPath : mergesPath})`, {
        details: { file: !vocab ? vocabPath : mergesPath },
      })
    }
    const lines = parseMerges(merges, mergesPath)
    return ClipTokenizer.fromVocabMerges(vocab as Record<string, number>, lines, config, vocabPath)
  }

  /** The BPE tokens of `text` (no special tokens), as strings. */
  tokenize(text: string): string[] {
    if (typeof text !== 'string') throw invalidArgument('text', 'a string', text)
    return this.tokenizer.encode(text, { add_special_tokens: false }).tokens
  }

  /** BOS + ids + EOS, truncated to maxLength (EOS kept last) and padded with padId. */
  encode(text: string): TokenizedText {
    if (typeof text !== 'string') throw invalidArgument('prompt', 'a string', text)
    const raw = this.tokenizer.encode(text, { add_special_tokens: false }).ids
    const room = this.maxLength - 2
    const kept = raw.length > room ? raw.slice(0, room) : raw
    const ids = new Int32Array(this.maxLength).fill(this.padId)
    ids[0] = this.bosId
    ids.set(kept, 1)
    ids[kept.length + 1] = this.eosId
    return { ids, tokenCount: raw.length, truncated: raw.length > room }
  }

  /** Decodes ids back to text (special tokens skipped), for messages and tests. */
  decode(ids: ArrayLike<number>): string {
    return this.tokenizer.decode(Array.from(ids), { skip_special_tokens: true }).trim()
  }
}

/** Far above any real vocabulary (CLIP has 49408 ids), far below what makes a table scan slow. */
const MAX_TOKEN_ID = 1 << 22

/**
 * The tokenizers library keeps its vocabulary in an array indexed by id and scans it whole (get_vocab):
 * one id of 999999999 in vocab.json made loading take 26 s (found by scripts/fuzz.ts --target tokenizer).
 */
function checkTokenIds(json: Json, source: string): void {
  const model = json.model as Json | undefined
  const ids: [string, unknown][] = []
  if (model && typeof model.vocab === 'object' && model.vocab !== null && !Array.isArray(model.vocab)) ids.push(...Object.entries(model.vocab as Json))
  if (Array.isArray(json.added_tokens)) for (const t of json.added_tokens as Json[]) if (t && typeof t === 'object') ids.push([String(t.content), t.id])
  for (const [token, id] of ids) {
    if (typeof id === 'number' && !(id < MAX_TOKEN_ID)) {
      throw new DiffuseError('FILE_FORMAT', `${source}: token ${JSON.stringify(token).slice(0, 60)} has id ${id}, beyond the largest supported id ${MAX_TOKEN_ID - 1}`, {
        details: { file: source },
      })
    }
  }
}

async function readJsonIfExists(path: string): Promise<Json | undefined> {
  let text: string
  try {
    text = await fs.readFile(path, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new DiffuseError('IO', `Could not read ${path}: ${(e as Error).message}`, { cause: e, details: { file: path } })
  }
  try {
    const v = JSON.parse(text) as unknown
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object')
    return v as Json
  } catch (e) {
    throw new DiffuseError('FILE_FORMAT', `${path} is not valid JSON: ${(e as Error).message}`, { cause: e, details: { file: path } })
  }
}
