import { existsSync, readdirSync, statSync } from 'node:fs'
import { basename, isAbsolute, join, resolve } from 'node:path'
import { DiffuseError, invalidArgument } from '../errors.js'
import type { SchedulerConfig } from '../core/samplers/types.js'
import { readJsonObject } from './json-file.js'
import { packageRoot } from './package-root.js'

/** The parts a model folder in the diffusers/Optimum ONNX layout may have. */
export const COMPONENTS = ['unet', 'text_encoder', 'tokenizer', 'vae_decoder', 'vae_encoder', 'scheduler', 'prior', 'prior_scheduler'] as const
export type ComponentName = (typeof COMPONENTS)[number]

/** What diffusekit adds to a model folder (diffusekit.json). */
export interface DiffusekitConfig {
  modality?: 'audio' | 'pointcloud' | 'image'
  name?: string
  defaults?: { steps?: number; guidance?: number; sampler?: string; guidanceRescale?: number }
  [key: string]: unknown
}

export interface ModelFolder {
  readonly root: string
  /** the bundled name, or the folder's base name */
  readonly name: string
  /** model_index.json, when present */
  readonly index: Readonly<Record<string, unknown>> | null
  /** scheduler/scheduler_config.json, when present */
  readonly scheduler: Readonly<SchedulerConfig> | null
  /** diffusekit.json, or {} */
  readonly config: Readonly<DiffusekitConfig>
  /** components whose files are present */
  readonly components: ReadonlySet<ComponentName>
  has(component: ComponentName): boolean
  /** path of a component's file; a clear MODEL_LOAD error when the component or file is missing */
  file(component: ComponentName, fileName?: string): string
}

const ONNX_COMPONENTS: readonly ComponentName[] = ['unet', 'text_encoder', 'vae_decoder', 'vae_encoder', 'prior']
const SCHEDULER_COMPONENTS: readonly ComponentName[] = ['scheduler', 'prior_scheduler']
const TOKENIZER_FILES = ['tokenizer.json', 'vocab.json']

/** Names of the models bundled in the package (folders of models/ with a diffusekit.json). */
export function bundledModelNames(): string[] {
  const dir = join(packageRoot(), 'models')
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .filter((n) => existsSync(join(dir, n, 'diffusekit.json')))
    .sort()
}

function looksLikePath(s: string): boolean {
  return isAbsolute(s) || s.startsWith('.') || s.includes('/') || s.includes('\\')
}

/** A bundled model's folder by name, or a folder path as given (resolved). */
export function resolveModel(nameOrPath: string): string {
  if (typeof nameOrPath !== 'string' || nameOrPath.trim() === '') throw invalidArgument('model', 'a bundled model name or a folder path', nameOrPath)
  if (looksLikePath(nameOrPath)) return resolve(nameOrPath)
  const names = bundledModelNames()
  if (names.includes(nameOrPath)) return join(packageRoot(), 'models', nameOrPath)
  if (existsSync(nameOrPath) && statSync(nameOrPath).isDirectory()) return resolve(nameOrPath)
  throw new DiffuseError('UNKNOWN_MODEL', `No bundled model named "${nameOrPath}"; bundled models: ${names.join(', ') || '(none)'}. Pass a folder path to load your own.`, {
    details: { known: names },
  })
}

function componentPresent(root: string, c: ComponentName): boolean {
  const dir = join(root, c)
  if (!existsSync(dir)) return false
  if (ONNX_COMPONENTS.includes(c)) return existsSync(join(dir, 'model.onnx'))
  if (c === 'tokenizer') return TOKENIZER_FILES.some((f) => existsSync(join(dir, f)))
  return existsSync(join(dir, 'scheduler_config.json'))
}

/** Whether model_index.json declares a component (diffusers writes [library, class], or [null, null] when absent). */
function declared(index: Record<string, unknown> | null, c: ComponentName): boolean {
  const v = index?.[c]
  return Array.isArray(v) && v.length === 2 && v[1] !== null
}

/** Reads a model folder in the diffusers/Optimum ONNX layout (DESIGN.md "Models on disk"). */
export async function readModelFolder(nameOrPath: string): Promise<ModelFolder> {
  const root = resolveModel(nameOrPath)
  if (!existsSync(root)) throw new DiffuseError('FILE_NOT_FOUND', `Model folder ${root} does not exist`)
  if (!statSync(root).isDirectory()) throw new DiffuseError('MODEL_LOAD', `${root} is a file; a model is a folder (model_index.json, unet/model.onnx, ...)`)
  const indexPath = join(root, 'model_index.json')
  const index = existsSync(indexPath) ? await readJsonObject(indexPath) : null
  const schedulerPath = join(root, 'scheduler', 'scheduler_config.json')
  let scheduler: SchedulerConfig | null = null
  if (existsSync(schedulerPath)) {
    const raw = await readJsonObject(schedulerPath)
    if (typeof raw._class_name !== 'string') {
      throw new DiffuseError('INVALID_CONFIG', `${schedulerPath} has no "_class_name" string naming the scheduler class`)
    }
    scheduler = raw as SchedulerConfig
  }
  const configPath = join(root, 'diffusekit.json')
  const config = (existsSync(configPath) ? await readJsonObject(configPath) : {}) as DiffusekitConfig
  const components = new Set<ComponentName>(COMPONENTS.filter((c) => componentPresent(root, c)))
  if (!components.has('unet')) {
    const why = declared(index, 'unet') ? 'model_index.json declares a unet but ' : ''
    throw new DiffuseError('MODEL_LOAD', `${why}${join(root, 'unet', 'model.onnx')} is missing: a model folder needs at least its denoiser`, {
      details: { root, missing: 'unet' },
    })
  }
  const name = root.startsWith(join(packageRoot(), 'models')) ? basename(root) : (config.name ?? basename(root))
  return {
    root,
    name,
    index,
    scheduler,
    config,
    components,
    has: (c) => components.has(c),
    file(component, fileName) {
      const f = join(root, component, fileName ?? (SCHEDULER_COMPONENTS.includes(component) ? 'scheduler_config.json' : 'model.onnx'))
      if (!existsSync(f)) {
        const why = declared(index, component) ? ' (model_index.json declares it)' : ''
        throw new DiffuseError('MODEL_LOAD', `Model ${name} has no ${component}${why}: ${f} is missing`, { details: { root, missing: component } })
      }
      return f
    },
  }
}
