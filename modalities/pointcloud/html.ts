import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { DiffuseError } from '../../src/errors.js'

/**
 * A self-contained HTML preview: one file that opens from the file system with no server and no
 * network. three.js (its module build, three.core.js + three.module.js) and OrbitControls are read from
 * node_modules when the page is made and inlined as base64; the page turns them into blob: URLs,
 * rewrites their relative imports to those URLs, and imports them. The points (and the denoising
 * trajectory, quantised) are inlined as base64 too.
 *
 * The page shows the cloud with vertex colours and orbit controls; with a trajectory, a slider and a
 * play button step through the sampler's clean-sample estimates (x0 predictions), ending at the result.
 * Without WebGL it falls back to a 2D projection on a canvas. <body data-status> reads "webgl",
 * "canvas2d" or "error: ..." once the first frame is drawn (tests read it).
 */

export interface PreviewFrame {
  positions: Float32Array
  colors?: Float32Array
}

export interface PreviewOptions {
  title?: string
  /** point size in world units (the cloud spans about [-1, 1]); default 0.025 */
  pointSize?: number
  /** background colour, CSS; default '#16171b' */
  background?: string
  /** denoising frames, oldest first (the result itself is appended as the last frame) */
  trajectory?: readonly PreviewFrame[]
}

interface ThreeSources {
  core: string
  module: string
  orbit: string
}

let cachedSources: ThreeSources | null = null

/** three.js's files, base64, read once from the installed package. */
function threeSources(): ThreeSources {
  if (cachedSources) return cachedSources
  try {
    // three's "exports" map hides package.json; its main file lives in build/, one level down
    const require = createRequire(import.meta.url)
    const pkgDir = dirname(dirname(require.resolve('three')))
    const read = (rel: string): string => readFileSync(join(pkgDir, rel)).toString('base64')
    cachedSources = {
      core: read('build/three.core.js'),
      module: read('build/three.module.js'),
      orbit: read('examples/jsm/controls/OrbitControls.js'),
    }
    return cachedSources
  } catch (e) {
    throw new DiffuseError('UNSUPPORTED', `The HTML preview inlines three.js, which could not be read from node_modules: ${(e as Error).message}`, { cause: e })
  }
}

function b64(a: ArrayBufferView): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64')
}

function colourBytes(c: Float32Array | undefined, n: number): Uint8Array | null {
  if (!c) return null
  const out = new Uint8Array(3 * n)
  for (let i = 0; i < 3 * n; i++) out[i] = Math.round(Math.min(Math.max(c[i]!, 0), 1) * 255) || 0
  return out
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)
}

/** Builds the preview page. */
export function previewHtml(positions: Float32Array, colors: Float32Array | undefined, options: PreviewOptions = {}): string {
  if (!(positions instanceof Float32Array) || positions.length % 3 !== 0 || positions.length === 0) {
    throw new DiffuseError('INVALID_ARGUMENT', 'Expected positions to be a non-empty Float32Array of xyz triples')
  }
  const n = positions.length / 3
  const frames = [...(options.trajectory ?? []), { positions, ...(colors ? { colors } : {}) }]
  for (const [i, f] of frames.entries()) {
    if (!(f.positions instanceof Float32Array) || f.positions.length !== positions.length) {
      throw new DiffuseError('INVALID_ARGUMENT', `Expected trajectory frame ${i} to have ${n} points like the cloud`)
    }
  }
  // Frames are quantised to 16 bits over their common bounding box (the early x0 estimates can be
  // far out), which halves the page; the final frame is kept exact in float32.
  let lo = Infinity
  let hi = -Infinity
  for (const f of frames) for (const v of f.positions) if (Number.isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v }
  if (!(hi > lo)) { lo -= 1; hi += 1 }
  const quant = frames.slice(0, -1).map((f) => {
    const q = new Uint16Array(f.positions.length)
    for (let i = 0; i < q.length; i++) q[i] = Math.round(((Math.min(Math.max(f.positions[i]!, lo), hi) - lo) / (hi - lo)) * 65535) || 0
    const c = colourBytes(f.colors, n)
    return { p: b64(q), c: c ? b64(c) : null }
  })
  const fc = colourBytes(colors, n)
  const data = {
    n,
    lo,
    hi,
    positions: b64(new Float32Array(positions)),
    colors: fc ? b64(fc) : null,
    frames: quant,
    pointSize: options.pointSize ?? 0.025,
    background: options.background ?? '#16171b',
  }
  const src = threeSources()
  const title = escapeHtml(options.title ?? 'point cloud')
  const bg = escapeHtml(options.background ?? '#16171b')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
html,body{margin:0;height:100%;overflow:hidden;background:${bg};color:#ddd;font:13px system-ui,sans-serif}
#view{position:fixed;inset:0;width:100%;height:100%;display:block}
#info{position:fixed;left:10px;top:8px;pointer-events:none;text-shadow:0 1px 2px #000}
#ui{position:fixed;left:10px;right:10px;bottom:10px;display:flex;gap:8px;align-items:center}
#ui[hidden]{display:none}#step{flex:1}button{font:inherit;min-width:3em}
</style></head>
<body data-status="loading">
<canvas id="view"></canvas>
<div id="info">${title} · ${n} points</div>
<div id="ui" hidden><button id="play" type="button">play</button><input id="step" type="range" min="0" value="0"><span id="label"></span></div>
<script id="three-core" type="application/octet-stream">${src.core}</script>
<script id="three-module" type="application/octet-stream">${src.module}</script>
<script id="three-orbit" type="application/octet-stream">${src.orbit}</script>
<script id="cloud-data" type="application/json">${JSON.stringify(data)}</script>
<script type="module">
const $ = (id) => document.getElementById(id)
const bytes = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0))
const text = (id) => new TextDecoder().decode(bytes($(id).textContent.trim()))
const D = JSON.parse($('cloud-data').textContent)
const N = D.n
const lin = (c) => (c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4))
const finalPos = new Float32Array(bytes(D.positions).buffer)
function frame(i) {
  if (i >= D.frames.length) return { p: finalPos, c: D.colors ? bytes(D.colors) : null }
  const q = new Uint16Array(bytes(D.frames[i].p).buffer)
  const p = new Float32Array(q.length)
  for (let k = 0; k < q.length; k++) p[k] = D.lo + (q[k] / 65535) * (D.hi - D.lo)
  return { p, c: D.frames[i].c ? bytes(D.frames[i].c) : null }
}
const frameCount = D.frames.length + 1
const status = (s) => { document.body.dataset.status = s }
const canvas = $('view')
let show = () => {}
let current = frameCount - 1
try {
  const url = (code) => URL.createObjectURL(new Blob([code], { type: 'text/javascript' }))
  const coreUrl = url(text('three-core'))
  const moduleUrl = url(text('three-module').replaceAll("'./three.core.js'", JSON.stringify(coreUrl)))
  const orbitUrl = url(text('three-orbit').replaceAll("'three'", JSON.stringify(moduleUrl)))
  const THREE = await import(moduleUrl)
  const { OrbitControls } = await import(orbitUrl)
  let renderer
  try {
    renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true })
  } catch (e) {
    renderer = null
  }
  if (renderer) {
    renderer.setPixelRatio(window.devicePixelRatio || 1)
    renderer.setClearColor(new THREE.Color(D.background))
    const scene = new THREE.Scene()
    const camera = new THREE.PerspectiveCamera(40, 1, 0.01, 100)
    camera.position.set(1.9, 1.3, 2.6)
    const geometry = new THREE.BufferGeometry()
    const pos = new THREE.BufferAttribute(new Float32Array(3 * N), 3)
    const col = new THREE.BufferAttribute(new Float32Array(3 * N), 3)
    geometry.setAttribute('position', pos)
    geometry.setAttribute('color', col)
    const material = new THREE.PointsMaterial({ size: D.pointSize, vertexColors: true, sizeAttenuation: true })
    scene.add(new THREE.Points(geometry, material))
    const controls = new OrbitControls(camera, canvas)
    controls.enableDamping = true
    const resize = () => {
      const w = window.innerWidth, h = window.innerHeight
      renderer.setSize(w, h, false)
      camera.aspect = w / Math.max(h, 1)
      camera.updateProjectionMatrix()
    }
    window.addEventListener('resize', resize)
    resize()
    show = (i) => {
      const f = frame(i)
      pos.array.set(f.p)
      for (let k = 0; k < 3 * N; k++) col.array[k] = f.c ? lin(f.c[k] / 255) : 0.8
      pos.needsUpdate = true
      col.needsUpdate = true
      geometry.computeBoundingSphere()
    }
    show(current)
    const loop = () => {
      controls.update()
      renderer.render(scene, camera)
      requestAnimationFrame(loop)
    }
    renderer.render(scene, camera)
    status('webgl')
    requestAnimationFrame(loop)
  } else {
    // no WebGL: an orthographic 2D projection so that the page still shows the cloud
    const ctx = canvas.getContext('2d')
    show = (i) => {
      const f = frame(i)
      const w = (canvas.width = window.innerWidth), h = (canvas.height = window.innerHeight)
      const s = 0.4 * Math.min(w, h)
      ctx.clearRect(0, 0, w, h)
      for (let k = 0; k < N; k++) {
        const c = f.c ? 'rgb(' + f.c[3 * k] + ',' + f.c[3 * k + 1] + ',' + f.c[3 * k + 2] + ')' : '#ccc'
        ctx.fillStyle = c
        ctx.fillRect(w / 2 + s * (f.p[3 * k] + 0.5 * f.p[3 * k + 2]), h / 2 - s * f.p[3 * k + 1], 2, 2)
      }
    }
    show(current)
    status('canvas2d')
  }
} catch (e) {
  status('error: ' + (e && e.message ? e.message : String(e)))
  throw e
}
if (frameCount > 1) {
  const ui = $('ui'), step = $('step'), label = $('label'), play = $('play')
  ui.hidden = false
  step.max = String(frameCount - 1)
  step.value = String(current)
  const setLabel = () => { label.textContent = current === frameCount - 1 ? 'result' : 'step ' + (current + 1) + ' / ' + (frameCount - 1) + ' (x0 estimate)' }
  setLabel()
  step.addEventListener('input', () => { current = Number(step.value); show(current); setLabel() })
  let timer = null
  play.addEventListener('click', () => {
    if (timer) { clearInterval(timer); timer = null; play.textContent = 'play'; return }
    if (current === frameCount - 1) current = -1
    play.textContent = 'pause'
    timer = setInterval(() => {
      current++
      if (current >= frameCount) { clearInterval(timer); timer = null; play.textContent = 'play'; current = frameCount - 1; return }
      step.value = String(current); show(current); setLabel()
    }, 120)
  })
}
</script>
</body></html>
`
}
