// Writes the `bunny` and `teapot` npm meshes (positions + triangle cells) as one JSON file that the
// Python data generator reads. The packages are pinned in training/package.json: `npm ci --prefix training`.
// Usage: node training/shapes/export_meshes.mjs [training] [training/data/shapes_meshes.json]
import { createRequire } from 'node:module'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'

const prefix = resolve(process.argv[2] ?? 'training')
const out = resolve(process.argv[3] ?? 'training/data/shapes_meshes.json')
// The packages are CommonJS; require them from the scratch prefix.
const require = createRequire(resolve(prefix, 'node_modules', 'x.js'))
const meshes = {}
for (const name of ['bunny', 'teapot']) {
  const m = require(name)
  meshes[name] = { positions: m.positions, cells: m.cells }
}
mkdirSync(dirname(out), { recursive: true })
writeFileSync(out, JSON.stringify(meshes))
console.log(`wrote ${out}: bunny ${meshes.bunny.cells.length} triangles, teapot ${meshes.teapot.cells.length} triangles`)
