import t from 'tap'
import { decode } from 'fast-png'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { renderGallery } from '../cli/commands/gallery.js'
import { chromiumMissing, launchChromium } from './helpers/chromium.js'

t.test('the gallery page opens from disk in Chromium: images load, audio has durations, 3D views draw points', { skip: chromiumMissing() }, async (t) => {
  const out = join(mkdtempSync(join(tmpdir(), 'dk-gallery-')), 'gallery')
  const r = await renderGallery({ out, seed: 5, device: 'cpu', quiet: true, limit: 1 })
  t.same(
    r.entries.map((e) => e.section),
    ['image', 'speech', 'music', 'pointcloud'],
  )
  for (const e of r.entries) t.ok(JSON.parse(readFileSync(join(out, e.files.record), 'utf8')).generator, `${e.title}: a reproduction record`)

  const browser = await launchChromium()
  t.teardown(() => browser.close())
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(e.message))
  page.on('requestfailed', (req) => errors.push(`failed to load ${req.url()}`))
  await page.goto(pathToFileURL(join(out, 'index.html')).href)

  await page.waitForFunction(() => [...document.images].every((i) => i.complete), null, { timeout: 30000 })
  const images = await page.$$eval('img', (imgs) => imgs.map((i) => ({ src: i.getAttribute('src'), width: i.naturalWidth })))
  t.ok(images.length >= 3, `${images.length} pictures on the page`)
  for (const i of images) t.ok(i.width > 0, `${i.src} loads`)

  await page.waitForFunction(() => [...document.querySelectorAll('audio')].every((a) => a.readyState >= 1), null, { timeout: 30000 })
  const audio = await page.$$eval('audio', (as) => as.map((a) => ({ src: a.getAttribute('src'), duration: a.duration })))
  t.equal(audio.length, 2)
  for (const a of audio) t.ok(Number.isFinite(a.duration) && a.duration > 0.2, `${a.src} has a duration (${a.duration.toFixed(2)} s)`)

  const frames = await page.$$('iframe')
  t.equal(frames.length, 1)
  for (const f of frames) {
    await f.scrollIntoViewIfNeeded()
    const frame = await f.contentFrame()
    t.ok(frame, 'the 3D view is a frame')
    await frame!.waitForSelector('body[data-status]', { timeout: 30000 })
    t.equal(await frame!.$eval('body', (b) => b.dataset.status), 'webgl', 'the preview runs WebGL')
    await page.waitForTimeout(500)
    const png = decode(await f.screenshot())
    // the preview's background is one flat colour: count the pixels that differ from the corner's
    const c = png.channels
    const d = png.data
    let drawn = 0
    for (let p = 0; p < png.width * png.height; p++) {
      const diff = Math.abs(d[p * c]! - d[0]!) + Math.abs(d[p * c + 1]! - d[1]!) + Math.abs(d[p * c + 2]! - d[2]!)
      if (diff > 30) drawn++
    }
    t.ok(drawn > 500, `the 3D view draws points (${drawn} pixels differ from the background)`)
  }
  t.same(errors, [], 'no page errors, no failed loads')
})
