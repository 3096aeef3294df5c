import type { Command } from 'commander'
import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import { join, resolve } from 'node:path'
import { loadPipeline as loadAudio } from '../../modalities/audio/index.js'
import { loadPipeline as loadImage } from '../../modalities/image/index.js'
import { loadPipeline as loadPoints } from '../../modalities/pointcloud/index.js'
import { DiffuseError } from '../../src/errors.js'
import { packageVersion } from '../../src/runtime/package-root.js'
import { galleryPage, type GalleryEntry } from '../gallery/page.js'
import { spectrogramPng } from '../gallery/spectrogram.js'
import { action, createProgress } from '../shared.js'

interface GalleryOptions {
  out: string
  seed: string
  device: string
  quiet?: boolean
  only?: string
}

/** What the default gallery shows: small enough to render in well under two minutes on two cores. */
export const GALLERY = {
  images: ['red apple', 'smiling face with sunglasses', 'blue heart', 'pizza', 'cat face', 'rocket', 'sun', 'green tree'],
  speech: [
    { text: 'seven three one', voice: 0 },
    { text: 'one two three four five', voice: 3 },
    { text: 'nine eight zero', voice: 6 },
  ],
  music: [
    { notes: 'C4 E4 G4 C5 G4 E4 C4:2', instrument: 'piano', title: 'C major arpeggio, piano' },
    { notes: 'C4+E4+G4:2 F4+A4+C5:2 G4+B4+D5:2 C4+E4+G4:2', instrument: 'organ', title: 'I–IV–V–I chords, organ' },
    { notes: 'E5 D5 C5 D5 E5 E5 E5:2', instrument: 'flute', title: 'a tune, flute' },
  ],
  shapes: ['chair', 'table', 'airplane', 'lamp', 'mug', 'torus', 'helix', 'teapot'],
} as const

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFile(path, JSON.stringify(value, null, 2) + '\n')
}

/**
 * Renders the gallery into `out`: images, audio with players and spectrogram pictures, interactive
 * point clouds, and an index.html that opens from the file system. Written into a temporary folder
 * first and moved into place at the end, so a failed run leaves an existing gallery untouched.
 */
export async function renderGallery(options: {
  out: string
  seed: number
  device: 'cpu' | 'cuda' | 'auto'
  quiet?: boolean
  only?: string[]
  /** at most this many items per section (a quick gallery, e.g. for tests) */
  limit?: number
}): Promise<{ out: string; entries: GalleryEntry[]; seconds: number }> {
  const started = performance.now()
  const out = resolve(options.out)
  const tmp = `${out}.tmp-${process.pid}`
  await rm(tmp, { recursive: true, force: true })
  for (const d of ['images', 'audio', 'clouds', 'records']) await mkdir(join(tmp, d), { recursive: true })
  const entries: GalleryEntry[] = []
  const want = (s: string) => !options.only || options.only.includes(s)
  const progress = createProgress('', options.quiet)
  const seed = options.seed
  const take = <T>(items: readonly T[]): T[] => items.slice(0, options.limit ?? items.length)
  try {
    if (want('image')) {
      const emoji = await loadImage('emoji', { device: options.device })
      for (const [i, prompt] of take(GALLERY.images).entries()) {
        progress.setLabel(`image "${prompt}"`)
        const img = await emoji.generate({ prompt, seed: seed + i, onProgress: progress.onProgress })
        const name = slug(prompt)
        await img.save(join(tmp, 'images', `${name}.png`))
        await writeJson(join(tmp, 'records', `image-${name}.json`), img.record)
        entries.push({ section: 'image', title: prompt, files: { main: `images/${name}.png`, record: `records/image-${name}.json` } })
      }
      await emoji.dispose()
    }
    if (want('speech')) {
      const tts = await loadAudio('speech', { device: options.device })
      for (const [i, item] of take(GALLERY.speech).entries()) {
        progress.setLabel(`speech "${item.text}"`)
        const clip = await tts.generate({ text: item.text, voice: item.voice, seed: seed + i, onProgress: progress.onProgress })
        const name = `speech-${slug(item.text)}`
        await clip.save(join(tmp, 'audio', `${name}.wav`))
        await writeFile(join(tmp, 'audio', `${name}.png`), spectrogramPng(clip.samples, clip.sampleRate))
        await writeJson(join(tmp, 'records', `${name}.json`), clip.record)
        entries.push({
          section: 'speech',
          title: `“${item.text}”`,
          note: `voice ${tts.voices[item.voice] ?? item.voice}`,
          files: { main: `audio/${name}.wav`, picture: `audio/${name}.png`, record: `records/${name}.json` },
        })
      }
      await tts.dispose()
    }
    if (want('music')) {
      const music = await loadAudio('music', { device: options.device })
      for (const [i, item] of take(GALLERY.music).entries()) {
        progress.setLabel(`music: ${item.title}`)
        const clip = await music.generate({ notes: item.notes, instrument: item.instrument, seed: seed + i, onProgress: progress.onProgress })
        const name = `music-${slug(item.title)}`
        await clip.save(join(tmp, 'audio', `${name}.wav`))
        await writeFile(join(tmp, 'audio', `${name}.png`), spectrogramPng(clip.samples, clip.sampleRate))
        await writeJson(join(tmp, 'records', `${name}.json`), clip.record)
        entries.push({ section: 'music', title: item.title, note: item.notes, files: { main: `audio/${name}.wav`, picture: `audio/${name}.png`, record: `records/${name}.json` } })
      }
      await music.dispose()
    }
    if (want('pointcloud')) {
      const shapes = await loadPoints('shapes', { device: options.device })
      for (const [i, prompt] of take(GALLERY.shapes).entries()) {
        progress.setLabel(`point cloud "${prompt}"`)
        const cloud = await shapes.generate({ prompt, seed: seed + i, trajectory: true, onProgress: progress.onProgress })
        const name = slug(prompt)
        await cloud.save(join(tmp, 'clouds', `${name}.html`))
        await cloud.save(join(tmp, 'clouds', `${name}.ply`))
        await cloud.save(join(tmp, 'clouds', `${name}.glb`))
        await writeJson(join(tmp, 'records', `cloud-${name}.json`), cloud.record)
        entries.push({
          section: 'pointcloud',
          title: prompt,
          files: { main: `clouds/${name}.html`, record: `records/cloud-${name}.json`, extra: [`clouds/${name}.ply`, `clouds/${name}.glb`] },
        })
      }
      await shapes.dispose()
    }
    progress.stop()
    const seconds = (performance.now() - started) / 1000
    const cpu = cpus()
    const machine = `${cpu.length} × ${cpu[0]?.model.trim() ?? 'CPU'}, Node ${process.version}`
    await writeFile(join(tmp, 'index.html'), galleryPage(entries, { version: packageVersion(), seconds, machine, date: new Date().toISOString().slice(0, 10) }))
    await rm(out, { recursive: true, force: true })
    await rename(tmp, out)
    return { out, entries, seconds }
  } catch (e) {
    progress.stop()
    await rm(tmp, { recursive: true, force: true })
    throw e
  }
}

export function register(program: Command): void {
  program
    .command('gallery')
    .description('render a gallery of everything the bundled models make (images, speech, music, 3D) into one folder with an index.html')
    .option('-o, --out <dir>', 'output folder', 'gallery')
    .option('--seed <n>', 'base seed', '1')
    .option('--device <device>', 'cpu | cuda | auto', 'auto')
    .option('--only <sections>', 'comma-separated subset of: image, speech, music, pointcloud')
    .option('-q, --quiet', 'no progress bars')
    .addHelpText('after', '\nExample:\n  npx diffusekit gallery --out gallery && open gallery/index.html\n')
    .action(
      action(async (o: GalleryOptions) => {
        const seed = Number(o.seed)
        if (!Number.isInteger(seed) || seed < 0) throw new DiffuseError('INVALID_ARGUMENT', `--seed expects a non-negative integer, got "${o.seed}"`)
        if (!['cpu', 'cuda', 'auto'].includes(o.device)) throw new DiffuseError('INVALID_ARGUMENT', `--device expects cpu, cuda or auto, got "${o.device}"`)
        const only = o.only?.split(',').map((s) => s.trim())
        const known = ['image', 'speech', 'music', 'pointcloud']
        const bad = only?.find((s) => !known.includes(s))
        if (bad) throw new DiffuseError('INVALID_ARGUMENT', `--only: unknown section "${bad}"; sections: ${known.join(', ')}`)
        const r = await renderGallery({ out: o.out, seed, device: o.device as 'cpu' | 'cuda' | 'auto', quiet: o.quiet ?? false, ...(only ? { only } : {}) })
        process.stdout.write(`wrote ${r.entries.length} items to ${join(r.out, 'index.html')} in ${r.seconds.toFixed(1)} s\n`)
      }),
    )
}
