// Speaks a code with the bundled speech model and saves it as WAV, through the public API.
//
//   npx tsx examples/speak.ts ["seven three one"] [out.wav]
import { loadPipeline } from 'diffusekit/audio'

const text = process.argv[2] ?? 'seven three one'
const out = process.argv[3] ?? 'code.wav'

const tts = await loadPipeline('speech')
console.error(`vocabulary: ${tts.vocabulary.join(' ')}`)
const clip = await tts.generate({ text, voice: 2, seed: 1 })
await clip.save(out)
await tts.dispose()
console.log(JSON.stringify({ file: out, seconds: clip.duration, words: clip.segments, record: clip.record }))
