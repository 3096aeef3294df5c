/**
 * The README's picture of the gallery: renders the default gallery (or takes an existing folder) and
 * screenshots its index.html in headless Chromium into docs/gallery.png.
 *
 *   npx tsx scripts/gallery-screenshot.ts [existing-gallery-folder]
 */
import { mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { renderGallery } from '../cli/commands/gallery.js'
import { launchChromium } from '../test/helpers/chromium.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const folder = process.argv[2] ?? (await renderGallery({ out: join(tmpdir(), 'diffusekit-gallery'), seed: 1, device: 'auto' })).out
const browser = await launchChromium()
const page = await browser.newPage({ viewport: { width: 1280, height: 1000 }, deviceScaleFactor: 1 })
await page.goto(pathToFileURL(join(folder, 'index.html')).href)
// the whole page in one viewport, so that every WebGL view is live when the picture is taken
const height = await page.evaluate(() => document.documentElement.scrollHeight)
await page.setViewportSize({ width: 1280, height })
await page.waitForFunction(() => [...document.images].every((i) => i.complete))
for (const f of await page.$$('iframe')) {
  await f.scrollIntoViewIfNeeded()
  await (await f.contentFrame())?.waitForSelector('body[data-status]')
}
await page.evaluate(() => window.scrollTo(0, 0))
await page.waitForTimeout(1500)
mkdirSync(join(root, 'docs'), { recursive: true })
await page.screenshot({ path: join(root, 'docs', 'gallery.png') })
await browser.close()
console.log(`wrote ${join(root, 'docs', 'gallery.png')}`)
