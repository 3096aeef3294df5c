// Plays an arpeggio and a chord with the bundled music model and saves it as WAV, through the public API.
//
//   npx tsx examples/music.ts ["C4 E4 G4 C5 C4+E4+G4:2"] [instrument] [out.wav]
import { loadPipeline } from 'diffusekit/audio'

const notes = process.argv[2] ?? 'C4 E4 G4 C5 C4+E4+G4:2'
const instrument = process.argv[3] ?? 'piano'
const out = process.argv[4] ?? 'arpeggio.wav'

const music = await loadPipeline('music')
console.error(`instruments: ${music.instruments.join(' ')}; MIDI ${music.pitchRange[0]}-${music.pitchRange[1]}`)
const clip = await music.generate({ notes, instrument, tempo: 120, seed: 7, onProgress: (p) => process.stderr.write(`\r${p.step}/${p.total}`) })
process.stderr.write('\n')
await clip.save(out)
await music.dispose()
console.log(JSON.stringify({ file: out, seconds: clip.duration, notes: clip.segments, record: clip.record }))
