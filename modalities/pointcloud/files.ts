import { promises as fs } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { DiffuseError } from '../../src/errors.js'

/**
 * Writes bytes atomically: a temporary file in the same folder, then rename, so that a reader (or a
 * crash) never sees half a file.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`)
  try {
    await fs.writeFile(tmp, bytes)
    await fs.rename(tmp, path)
  } catch (e) {
    await fs.rm(tmp, { force: true }).catch(() => {})
    throw new DiffuseError('IO', `Could not write ${path}: ${(e as Error).message}`, { cause: e })
  }
}
