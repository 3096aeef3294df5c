/**
 * Emoji training data: the Google (Apache-2.0) and Twitter (CC-BY 4.0) 64×64 sets of
 * emoji-datasource, composited over white, with captions from emoji.json (name, short names, skin
 * tone). Writes training/data/emoji/{images.u8,meta.json}; run:
 *   npm install --prefix /tmp/emoji emoji-datasource-google emoji-datasource-twitter
 *   npx tsx training/image/prepare-data.ts /tmp/emoji/node_modules training/data/emoji
 * Apple's set is never read (its licence does not allow it).
 */
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { decodePng } from '../../modalities/image/png.js'

const SETS = ['google', 'twitter'] as const
const TONES: Record<string, string> = {
  '1F3FB': 'light skin tone',
  '1F3FC': 'medium-light skin tone',
  '1F3FD': 'medium skin tone',
  '1F3FE': 'medium-dark skin tone',
  '1F3FF': 'dark skin tone',
}

interface Entry {
  name: string
  short_names: string[]
  category: string
  subcategory: string
  image: string
  skin_variations?: Record<string, { image: string; [k: string]: unknown }>
  [k: string]: unknown
}

const [root = '/tmp/emoji/node_modules', outDir = 'training/data/emoji'] = process.argv.slice(2)
const entries = JSON.parse(readFileSync(join(root, 'emoji-datasource-google', 'emoji.json'), 'utf8')) as Entry[]

const clean = (s: string): string => s.toLowerCase().replace(/[_]+/g, ' ').replace(/\s+/g, ' ').trim()

// held-out groups: 200 base emoji (with all their skin variants), chosen by a fixed LCG so the split
// is reproducible without a random library
const groups = entries.filter((e) => e.category !== 'Component').sort((a, b) => (a.image < b.image ? -1 : 1))
let state = 12345
const rand = (): number => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648)
const order = groups.map((e, i) => ({ i, r: rand() })).sort((a, b) => a.r - b.r)
const heldOut = new Set(order.slice(0, 200).map((o) => groups[o.i]!.image))

interface Item {
  caption: string
  alts: string[]
  set: string
  group: number
  category: string
  subcategory: string
  heldout: boolean
  file: string
}
const items: Item[] = []
const pixels: Uint8Array[] = []
groups.forEach((e, group) => {
  const name = clean(e.name)
  const alts = [...new Set(e.short_names.map(clean).filter((s) => s !== name && !/^flag-/.test(s)))]
  const variants: { file: string; caption: string; alts: string[]; ok: (set: string) => boolean }[] = [
    { file: e.image, caption: name, alts, ok: (set) => e[`has_img_${set}`] === true },
  ]
  for (const [key, v] of Object.entries(e.skin_variations ?? {})) {
    const tones = [...new Set(key.split('-').map((k) => TONES[k]).filter((t): t is string => !!t))]
    const suffix = tones.join(' ')
    variants.push({ file: v.image, caption: `${name} ${suffix}`, alts: alts.map((a) => `${a} ${suffix}`), ok: (set) => v[`has_img_${set}`] === true })
  }
  for (const set of SETS) {
    for (const v of variants) {
      const path = join(root, `emoji-datasource-${set}`, 'img', set, '64', v.file)
      if (!v.ok(set) || !existsSync(path)) continue
      const img = decodePng(readFileSync(path), { background: [255, 255, 255] }, path)
      if (img.width !== 64 || img.height !== 64) continue
      pixels.push(img.data)
      items.push({ caption: v.caption, alts: v.alts, set, group, category: e.category, subcategory: e.subcategory, heldout: heldOut.has(e.image), file: v.file })
    }
  }
})
mkdirSync(outDir, { recursive: true })
const all = new Uint8Array(pixels.length * 64 * 64 * 3)
pixels.forEach((p, i) => all.set(p, i * p.length))
writeFileSync(join(outDir, 'images.u8'), all)
writeFileSync(join(outDir, 'meta.json'), JSON.stringify(items))
console.log(`${items.length} images, ${items.filter((i) => i.heldout).length} held out, ${groups.length} groups`)
