import { readFile } from 'node:fs/promises'
import { DiffuseError } from '../errors.js'

/** Reads a JSON object file; a missing file, bad JSON or a non-object is a clear DiffuseError naming the file. */
export async function readJsonObject(path: string): Promise<Record<string, unknown>> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    throw new DiffuseError(code === 'ENOENT' ? 'FILE_NOT_FOUND' : 'IO', `Cannot read ${path}: ${(e as Error).message}`, { cause: e })
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (e) {
    throw new DiffuseError('FILE_FORMAT', `${path} is not valid JSON: ${(e as Error).message}`, { cause: e })
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new DiffuseError('FILE_FORMAT', `${path} must hold a JSON object, found ${Array.isArray(value) ? 'an array' : typeof value}`)
  }
  return value as Record<string, unknown>
}
