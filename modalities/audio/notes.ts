import { DiffuseError, invalidArgument } from '../../src/errors.js'

/**
 * Note lists for the music pipeline. Times are in beats at `tempo` beats per minute.
 *
 * String form: whitespace/comma separated tokens, each played after the previous one:
 *   "C4 E4 G4 C5"      note names (scientific pitch: C4 = MIDI 60, sharps '#', flats 'b')
 *   "60 64 67"         MIDI numbers
 *   "C4+E4+G4"         a chord (notes summed)
 *   "C4:2 r:0.5 G4"    a duration in beats after ':'; 'r' (or '-') is a rest
 * Array form: [{ pitch: 'C4' | 60 | ['C4', 'E4'], duration?: beats, start?: beats }]; an item without
 * `start` follows the previous one.
 */
export interface NoteInput {
  pitch: string | number | readonly (string | number)[]
  /** beats (default 1) */
  duration?: number
  /** beats from the beginning (default: right after the previous item) */
  start?: number
}

/** A note ready to render: MIDI pitch, start and duration in seconds. */
export interface NoteEvent {
  pitch: number
  start: number
  duration: number
}

export interface NoteLimits {
  minPitch: number
  maxPitch: number
  /** longest single note, seconds */
  maxNoteSeconds: number
  /** longest piece, seconds */
  maxTotalSeconds: number
  maxNotes: number
}

const SEMITONES: Record<string, number> = { c: 0, d: 2, e: 4, f: 5, g: 7, a: 9, b: 11 }
const NAMES = ['C', 'C#', 'D', 'D#', 'E', 'F', 'F#', 'G', 'G#', 'A', 'A#', 'B']

/** MIDI number → scientific note name (60 → "C4"). */
export function noteName(midi: number): string {
  return `${NAMES[((midi % 12) + 12) % 12]}${Math.floor(midi / 12) - 1}`
}

/** A note name ("C4", "F#3", "Bb5") or MIDI number (60, "60") → MIDI number. */
export function parsePitch(p: unknown): number {
  if (typeof p === 'number') {
    if (!Number.isInteger(p)) throw invalidArgument('pitch', 'an integer MIDI number or a note name like "C4"', p)
    return p
  }
  if (typeof p !== 'string') throw invalidArgument('pitch', 'a note name like "C4" or a MIDI number', p)
  const s = p.trim()
  if (/^\d+$/.test(s)) return Number(s)
  const m = /^([A-Ga-g])(#|♯|b|♭)?(-?\d)$/.exec(s)
  if (!m) throw invalidArgument('pitch', 'a note name like "C4", "F#3" or "Bb5", or a MIDI number', p)
  const accidental = m[2] === '#' || m[2] === '♯' ? 1 : m[2] === 'b' || m[2] === '♭' ? -1 : 0
  return 12 * (Number(m[3]) + 1) + SEMITONES[m[1]!.toLowerCase()]! + accidental
}

function checkPitch(midi: number, limits: NoteLimits, given: unknown): number {
  if (midi < limits.minPitch || midi > limits.maxPitch) {
    throw new DiffuseError(
      'INVALID_ARGUMENT',
      `Note ${JSON.stringify(given)} (MIDI ${midi}) is out of the model's range ${noteName(limits.minPitch)}-${noteName(limits.maxPitch)} (MIDI ${limits.minPitch}-${limits.maxPitch})`,
      { details: { argument: 'notes', pitch: midi, min: limits.minPitch, max: limits.maxPitch } },
    )
  }
  return midi
}

function parseBeats(name: string, v: unknown): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) throw invalidArgument(name, 'a positive number of beats', v)
  return n
}

/** The string form as items of the array form. */
export function parseNoteString(s: string): NoteInput[] {
  const items: NoteInput[] = []
  for (const token of s.split(/[\s,]+/).filter((t) => t !== '')) {
    const [head, dur, extra] = token.split(':')
    if (extra !== undefined || head === '') throw invalidArgument('notes', 'tokens like "C4", "C4+E4+G4" or "C4:2"', token)
    const duration = dur === undefined ? 1 : parseBeats(`duration of "${token}"`, dur)
    if (head === 'r' || head === 'R' || head === '-') {
      items.push({ pitch: [], duration })
      continue
    }
    items.push({ pitch: head!.split('+'), duration })
  }
  return items
}

/** Notes (string or array form) → timed note events in seconds, validated against the model's limits. */
export function parseNotes(notes: unknown, tempo: number, limits: NoteLimits): NoteEvent[] {
  const beat = 60 / tempo
  let items: NoteInput[]
  if (typeof notes === 'string') items = parseNoteString(notes)
  else if (Array.isArray(notes)) items = notes as NoteInput[]
  else throw invalidArgument('notes', 'a string like "C4 E4 G4" or an array of {pitch, duration?, start?}', notes)
  const events: NoteEvent[] = []
  let cursor = 0
  items.forEach((item, i) => {
    if (item === null || typeof item !== 'object') throw invalidArgument(`notes[${i}]`, 'an object {pitch, duration?, start?}', item)
    const duration = item.duration === undefined ? 1 : parseBeats(`notes[${i}].duration`, item.duration)
    const start = item.start === undefined ? cursor : item.start
    if (typeof start !== 'number' || !Number.isFinite(start) || start < 0) throw invalidArgument(`notes[${i}].start`, 'a number of beats ≥ 0', item.start)
    const seconds = duration * beat
    if (seconds > limits.maxNoteSeconds) {
      throw new DiffuseError(
        'INVALID_ARGUMENT',
        `Note ${i + 1} lasts ${seconds.toFixed(2)} s (${duration} beats at ${tempo} bpm); the longest note is ${limits.maxNoteSeconds} s`,
        { details: { argument: 'notes', index: i, seconds } },
      )
    }
    if (seconds < 0.02) {
      throw new DiffuseError('INVALID_ARGUMENT', `Note ${i + 1} lasts ${(seconds * 1000).toFixed(1)} ms; the shortest note is 20 ms`, {
        details: { argument: 'notes', index: i, seconds },
      })
    }
    const pitches = Array.isArray(item.pitch) ? item.pitch : [item.pitch]
    for (const p of pitches) events.push({ pitch: checkPitch(parsePitch(p), limits, p), start: start * beat, duration: seconds })
    cursor = start + duration
  })
  if (events.length === 0) throw invalidArgument('notes', 'at least one note', notes)
  if (events.length > limits.maxNotes) throw invalidArgument('notes', `at most ${limits.maxNotes} notes`, `${events.length} notes`)
  const end = Math.max(...events.map((e) => e.start + e.duration))
  if (end > limits.maxTotalSeconds) {
    throw new DiffuseError('INVALID_ARGUMENT', `The notes last ${end.toFixed(1)} s; the longest piece is ${limits.maxTotalSeconds} s`, {
      details: { argument: 'notes', seconds: end },
    })
  }
  return events
}
