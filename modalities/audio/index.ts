/** diffusekit/audio: the signal-processing layer, plus the speech and music pipelines. */
export * from './dsp-index.js'
export { loadPipeline, type AudioPipeline } from './pipeline.js'
export { SpeechPipeline, splitWords, type SpeechGenerateOptions } from './speech.js'
export { MusicPipeline, retimeNote, type MusicGenerateOptions } from './music.js'
export { parseNotes, parsePitch, noteName, type NoteInput, type NoteEvent } from './notes.js'
export { AudioClip } from './clip.js'
export { MelDiffusionModel, readRepresentation, type MelRepresentation } from './mel-model.js'
