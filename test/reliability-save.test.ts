import t from 'tap'
import * as realFsp from 'node:fs/promises'
import * as realFs from 'node:fs'
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// "Nothing the user owns is overwritten by a failed save": every save path writes a temporary file and
// renames it into place. Each test makes the write fail midway (ENOSPC after half the bytes, through a
// mocked fs, because this CI runs as root where read-only folders do not stop writes) or makes the rename
// fail, and checks that the user's existing file is byte-for-byte intact and no temporary file is left.

const ORIGINAL = new TextEncoder().encode('the user\'s precious file, not a WAV or PNG at all\n')

function setup(name: string): { dir: string; target: string } {
  const dir = mkdtempSync(join(tmpdir(), 'dk-save-'))
  const target = join(dir, name)
  writeFileSync(target, ORIGINAL)
  return { dir, target }
}

/** fs mocks whose writeFile writes half of the bytes and then fails as a full disk would. */
function failingWrite(): { fsp: typeof realFsp; fs: typeof realFs } {
  const writeFile = async (path: string, data: Uint8Array, opts?: unknown): Promise<void> => {
    await realFsp.writeFile(path, data.subarray(0, data.length >> 1), opts as never)
    throw Object.assign(new Error(`ENOSPC: no space left on device, write '${path}'`), { code: 'ENOSPC' })
  }
  return {
    fsp: { ...realFsp, writeFile } as typeof realFsp,
    fs: { ...realFs, promises: { ...realFs.promises, writeFile } } as typeof realFs,
  }
}

/** fs mocks whose rename fails (e.g. EXDEV, or the target turned into a folder meanwhile). */
function failingRename(): { fsp: typeof realFsp; fs: typeof realFs } {
  const rename = async (): Promise<void> => {
    throw Object.assign(new Error('EXDEV: cross-device link not permitted'), { code: 'EXDEV' })
  }
  return { fsp: { ...realFsp, rename } as typeof realFsp, fs: { ...realFs, promises: { ...realFs.promises, rename } } as typeof realFs }
}

const audio = { sampleRate: 8000, channels: [new Float32Array(4000).map((_, i) => Math.sin(i / 10) * 0.5)] }
const image = { width: 16, height: 16, data: new Uint8Array(16 * 16 * 3).map((_, i) => i % 251) }

for (const [label, mocks] of [
  ['write fails midway (ENOSPC)', failingWrite],
  ['rename fails (EXDEV)', failingRename],
] as const) {
  t.test(`writeWav: ${label}: the existing file is intact, no temp file left`, async (t) => {
    const { dir, target } = setup('song.wav')
    const m = mocks()
    const { writeWav } = await t.mockImport<typeof import('../modalities/audio/wav.js')>('../modalities/audio/wav.js', { 'node:fs/promises': m.fsp })
    await t.rejects(writeWav(target, audio), { name: 'DiffuseError', code: 'IO' })
    t.same(readFileSync(target), Buffer.from(ORIGINAL), 'original bytes unchanged')
    t.same(readdirSync(dir), ['song.wav'], 'no temporary file left behind')
  })

  t.test(`writePng: ${label}: the existing file is intact, no temp file left`, async (t) => {
    const { dir, target } = setup('art.png')
    const m = mocks()
    const { writePng } = await t.mockImport<typeof import('../modalities/image/png.js')>('../modalities/image/png.js', { 'node:fs': m.fs })
    await t.rejects(writePng(target, image), { name: 'DiffuseError', code: 'IO' })
    t.same(readFileSync(target), Buffer.from(ORIGINAL), 'original bytes unchanged')
    t.same(readdirSync(dir), ['art.png'], 'no temporary file left behind')
  })
}

t.test('real filesystem: a target that is a folder, or in a missing folder, fails with IO and changes nothing', async (t) => {
  const { writeWav, readWav } = await import('../modalities/audio/wav.js')
  const { writePng, readPng } = await import('../modalities/image/png.js')
  const dir = mkdtempSync(join(tmpdir(), 'dk-save-'))
  const folder = join(dir, 'taken')
  mkdirSync(folder)
  writeFileSync(join(folder, 'inside.txt'), 'keep')
  await t.rejects(writeWav(folder, audio), { code: 'IO' })
  await t.rejects(writePng(folder, image), { code: 'IO' })
  t.same(readdirSync(folder), ['inside.txt'], 'the folder is untouched')
  await t.rejects(writeWav(join(dir, 'missing', 'x.wav'), audio), { code: 'IO' })
  await t.rejects(writePng(join(dir, 'missing', 'x.png'), image), { code: 'IO' })
  t.same(readdirSync(dir).sort(), ['taken'], 'no temporary files beside the targets')
  // and a successful save replaces an existing file completely (read back with the SDK's readers)
  const w = join(dir, 'ok.wav')
  const p = join(dir, 'ok.png')
  writeFileSync(w, ORIGINAL)
  writeFileSync(p, ORIGINAL)
  await writeWav(w, audio)
  await writePng(p, image)
  t.equal((await readWav(w)).channels[0]!.length, 4000)
  t.same(Array.from((await readPng(p)).data), Array.from(image.data))
  t.same(readdirSync(dir).sort(), ['ok.png', 'ok.wav', 'taken'])
})

t.test('PointCloud.save (.ply, .glb, .html): a failed write or rename leaves the existing file intact', async (t) => {
  const { existsSync } = await import('node:fs')
  if (!existsSync(new URL('../modalities/pointcloud/cloud.ts', import.meta.url))) {
    t.pass('point-cloud modality not present')
    return
  }
  for (const ext of ['ply', 'glb', 'html']) {
    for (const mocks of [failingWrite, failingRename]) {
      const { dir, target } = setup(`cloud.${ext}`)
      const m = mocks()
      // cloud.ts saves through files.ts: mock the fs that files.ts sees, and hand that module to cloud.ts
      const files = await t.mockImport<typeof import('../modalities/pointcloud/files.js')>('../modalities/pointcloud/files.js', { 'node:fs': m.fs, 'node:fs/promises': m.fsp })
      const { PointCloud } = await t.mockImport<typeof import('../modalities/pointcloud/cloud.js')>('../modalities/pointcloud/cloud.js', { '../modalities/pointcloud/files.js': files })
      const cloud = new PointCloud(Float32Array.from({ length: 30 }, (_, i) => Math.sin(i)), Float32Array.from({ length: 30 }, (_, i) => (i % 10) / 10))
      await t.rejects(cloud.save(target), { name: 'DiffuseError' }, `${ext}: ${mocks.name}`)
      t.same(readFileSync(target), Buffer.from(ORIGINAL), `${ext}: original bytes unchanged (${mocks.name})`)
      t.same(readdirSync(dir), [`cloud.${ext}`], `${ext}: no temporary file left behind (${mocks.name})`)
    }
  }
})
