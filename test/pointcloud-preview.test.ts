import t from 'tap'
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { decode } from 'fast-png'
import { PointCloud } from '../modalities/pointcloud/index.js'

// Acceptance: the HTML preview opens from the file system, with no network, in headless Chromium and
// draws the points. The page is checked twice: --dump-dom for the status the page reports
// (<body data-status="webgl">), and --screenshot for pixels that are not the background.

const CHROMIUM = '/usr/bin/chromium'
const run = promisify(execFile)

// a cloud that fills the view: a coloured helix of 2048 points, plus a short "trajectory"
function helix(shrink = 1): PointCloud {
  const n = 2048
  const p = new Float32Array(3 * n)
  const c = new Float32Array(3 * n)
  for (let i = 0; i < n; i++) {
    const s = i / n
    p[3 * i] = 0.8 * shrink * Math.cos(s * 6 * Math.PI)
    p[3 * i + 1] = shrink * (2 * s - 1)
    p[3 * i + 2] = 0.8 * shrink * Math.sin(s * 6 * Math.PI)
    c[3 * i] = s
    c[3 * i + 1] = 1 - s
    c[3 * i + 2] = 0.5
  }
  return new PointCloud(p, c)
}

t.test('the page is self-contained', async (t) => {
  const base = helix()
  const cloud = new PointCloud(base.positions, base.colors, { trajectory: [helix(3), helix(2)] })
  const html = cloud.toHTML({ title: 'a <helix>' })
  t.notMatch(html, /<script[^>]+src=/i, 'no external scripts')
  t.notMatch(html, /<link[^>]+href=/i, 'no external stylesheets')
  t.match(html, /<title>a &lt;helix&gt;<\/title>/, 'title escaped')
  const data = JSON.parse(/<script id="cloud-data" type="application\/json">(.*?)<\/script>/s.exec(html)![1]!)
  t.equal(data.n, 2048)
  t.equal(data.frames.length, 2, 'trajectory frames inlined')
  t.same(Array.from(new Float32Array(Buffer.from(data.positions, 'base64').buffer.slice(0))), Array.from(cloud.positions), 'exact final positions')
})

t.test('headless Chromium renders the points', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} not found: scripts/setup-test-tools.sh installs it (Debian package chromium)` }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dk-preview-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const base = helix()
  const cloud = new PointCloud(base.positions, base.colors, { trajectory: [helix(3)] })
  const page = join(dir, 'cloud.html')
  await cloud.save(page, { background: '#000000', pointSize: 0.04 })
  const flags = (profile: string) => [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    `--user-data-dir=${join(dir, profile)}`,
    // WebGL without a GPU: SwiftShader through ANGLE
    '--use-angle=swiftshader',
    '--enable-unsafe-swiftshader',
    '--virtual-time-budget=8000',
    '--window-size=640,480',
  ]
  const url = `file://${page}`
  const dom = await run(CHROMIUM, [...flags('p1'), '--dump-dom', url], { timeout: 60000, maxBuffer: 64 << 20 })
  const status = /<body[^>]*data-status="([^"]*)"/.exec(dom.stdout)?.[1]
  t.ok(status === 'webgl' || status === 'canvas2d', `the page drew its first frame (status ${status})`)
  t.equal(status, 'webgl', 'through three.js / WebGL')
  const shot = join(dir, 'shot.png')
  await run(CHROMIUM, [...flags('p2'), `--screenshot=${shot}`, url], { timeout: 60000 })
  const png = decode(readFileSync(shot))
  t.equal(png.width, 640)
  const ch = png.channels
  let lit = 0
  let coloured = 0
  // the UI bar (button, slider) sits at the bottom and the title at the top: count the middle only
  for (let y = 40; y < png.height - 50; y++) {
    for (let x = 0; x < png.width; x++) {
      const o = (y * png.width + x) * ch
      const r = png.data[o]!, g = png.data[o + 1]!, b = png.data[o + 2]!
      if (r + g + b > 60) lit++
      if (Math.abs(r - g) > 40) coloured++
    }
  }
  const area = png.width * (png.height - 90)
  t.ok(lit > area * 0.01, `points are drawn: ${lit} of ${area} pixels are not background`)
  t.ok(coloured > area * 0.002, `with vertex colours: ${coloured} coloured pixels`)
})
