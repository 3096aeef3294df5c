import { DiffuseError, describeValue } from '../../errors.js'
import type { ParseOptions } from './config.js'
import { DDIMInverseScheduler } from './ddim-inverse.js'
import { DDIMScheduler } from './ddim.js'
import { DDPMScheduler } from './ddpm.js'
import { DPMSolverMultistepScheduler } from './dpm-solver-multistep.js'
import { EulerAncestralDiscreteScheduler } from './euler-ancestral.js'
import { EulerDiscreteScheduler } from './euler.js'
import { HeunDiscreteScheduler } from './heun.js'
import { KarrasHeunScheduler } from './karras-heun.js'
import { KDPM2DiscreteScheduler } from './kdpm2.js'
import { LCMScheduler } from './lcm.js'
import { LMSDiscreteScheduler } from './lms.js'
import { PNDMScheduler } from './pndm.js'
import type { Sampler, SchedulerConfig } from './types.js'
import { UniPCMultistepScheduler } from './unipc-multistep.js'

/**
 * Samplers by name: diffusers class names, and the aliases people type in A1111 / ComfyUI style
 * ("DPM++ 2M Karras", "Euler a", "dpmpp_2m_sde"...). Names are matched ignoring case, spaces, '_' and '-'.
 */

type SamplerFactory = (config: unknown, options: ParseOptions) => Sampler

const CLASSES: Readonly<Record<string, SamplerFactory>> = {
  DDPMScheduler: (c, o) => new DDPMScheduler(c, o),
  DDIMScheduler: (c, o) => new DDIMScheduler(c, o),
  DDIMInverseScheduler: (c, o) => new DDIMInverseScheduler(c, o),
  PNDMScheduler: (c, o) => new PNDMScheduler(c, o),
  EulerDiscreteScheduler: (c, o) => new EulerDiscreteScheduler(c, o),
  EulerAncestralDiscreteScheduler: (c, o) => new EulerAncestralDiscreteScheduler(c, o),
  HeunDiscreteScheduler: (c, o) => new HeunDiscreteScheduler(c, o),
  LMSDiscreteScheduler: (c, o) => new LMSDiscreteScheduler(c, o),
  KDPM2DiscreteScheduler: (c, o) => new KDPM2DiscreteScheduler(c, o),
  DPMSolverMultistepScheduler: (c, o) => new DPMSolverMultistepScheduler(c, o),
  UniPCMultistepScheduler: (c, o) => new UniPCMultistepScheduler(c, o),
  LCMScheduler: (c, o) => new LCMScheduler(c, o),
  KarrasHeunScheduler: (c, o) => new KarrasHeunScheduler(c, o),
}

export interface SamplerAlias {
  /** the name as people write it */
  readonly name: string
  readonly className: string
  /** the config keys the alias sets on top of the base config */
  readonly options: Readonly<Record<string, unknown>>
}

const karras = (on: boolean) => ({ use_karras_sigmas: on })
const dpm = (order: number, algo: string, k: boolean) => ({ algorithm_type: algo, solver_order: order, ...karras(k) })

/** The aliases, in display order. */
export const SAMPLER_ALIASES: readonly SamplerAlias[] = [
  { name: 'DDIM', className: 'DDIMScheduler', options: {} },
  { name: 'DDIM Inverse', className: 'DDIMInverseScheduler', options: {} },
  { name: 'DDPM', className: 'DDPMScheduler', options: {} },
  { name: 'PNDM', className: 'PNDMScheduler', options: {} },
  { name: 'PLMS', className: 'PNDMScheduler', options: { skip_prk_steps: true } },
  { name: 'Euler', className: 'EulerDiscreteScheduler', options: karras(false) },
  { name: 'Euler Karras', className: 'EulerDiscreteScheduler', options: karras(true) },
  { name: 'Euler a', className: 'EulerAncestralDiscreteScheduler', options: {} },
  { name: 'Euler ancestral', className: 'EulerAncestralDiscreteScheduler', options: {} },
  { name: 'Heun', className: 'HeunDiscreteScheduler', options: karras(false) },
  { name: 'Heun Karras', className: 'HeunDiscreteScheduler', options: karras(true) },
  { name: 'LMS', className: 'LMSDiscreteScheduler', options: karras(false) },
  { name: 'LMS Karras', className: 'LMSDiscreteScheduler', options: karras(true) },
  { name: 'DPM2', className: 'KDPM2DiscreteScheduler', options: karras(false) },
  { name: 'DPM2 Karras', className: 'KDPM2DiscreteScheduler', options: karras(true) },
  { name: 'DPM++ 2M', className: 'DPMSolverMultistepScheduler', options: dpm(2, 'dpmsolver++', false) },
  { name: 'DPM++ 2M Karras', className: 'DPMSolverMultistepScheduler', options: dpm(2, 'dpmsolver++', true) },
  { name: 'DPM++ 3M', className: 'DPMSolverMultistepScheduler', options: dpm(3, 'dpmsolver++', false) },
  { name: 'DPM++ 3M Karras', className: 'DPMSolverMultistepScheduler', options: dpm(3, 'dpmsolver++', true) },
  { name: 'DPM++ 2M SDE', className: 'DPMSolverMultistepScheduler', options: dpm(2, 'sde-dpmsolver++', false) },
  { name: 'DPM++ 2M SDE Karras', className: 'DPMSolverMultistepScheduler', options: dpm(2, 'sde-dpmsolver++', true) },
  { name: 'DPM++ 3M SDE', className: 'DPMSolverMultistepScheduler', options: dpm(3, 'sde-dpmsolver++', false) },
  { name: 'DPM++ 3M SDE Karras', className: 'DPMSolverMultistepScheduler', options: dpm(3, 'sde-dpmsolver++', true) },
  { name: 'DPM-Solver++', className: 'DPMSolverMultistepScheduler', options: {} },
  { name: 'UniPC', className: 'UniPCMultistepScheduler', options: karras(false) },
  { name: 'UniPC Karras', className: 'UniPCMultistepScheduler', options: karras(true) },
  { name: 'LCM', className: 'LCMScheduler', options: {} },
  { name: 'EDM Heun', className: 'KarrasHeunScheduler', options: {} },
  { name: 'Karras Heun', className: 'KarrasHeunScheduler', options: {} },
  // ComfyUI / k-diffusion spellings
  { name: 'euler_ancestral', className: 'EulerAncestralDiscreteScheduler', options: {} },
  { name: 'dpm_2', className: 'KDPM2DiscreteScheduler', options: karras(false) },
  { name: 'dpmpp_2m', className: 'DPMSolverMultistepScheduler', options: dpm(2, 'dpmsolver++', false) },
  { name: 'dpmpp_3m', className: 'DPMSolverMultistepScheduler', options: dpm(3, 'dpmsolver++', false) },
  { name: 'dpmpp_2m_sde', className: 'DPMSolverMultistepScheduler', options: dpm(2, 'sde-dpmsolver++', false) },
  { name: 'dpmpp_3m_sde', className: 'DPMSolverMultistepScheduler', options: dpm(3, 'sde-dpmsolver++', false) },
  { name: 'uni_pc', className: 'UniPCMultistepScheduler', options: karras(false) },
  { name: 'heun_edm', className: 'KarrasHeunScheduler', options: {} },
]

function normalize(name: string): string {
  return name.toLowerCase().replace(/[\s_-]+/g, '')
}

const BY_NAME = new Map<string, SamplerAlias>()
for (const cls of Object.keys(CLASSES)) BY_NAME.set(normalize(cls), { name: cls, className: cls, options: {} })
for (const a of SAMPLER_ALIASES) if (!BY_NAME.has(normalize(a.name))) BY_NAME.set(normalize(a.name), a)

/** Every name createSampler accepts: diffusers class names first, then the aliases. */
export function samplerNames(): string[] {
  return [...Object.keys(CLASSES), ...SAMPLER_ALIASES.map((a) => a.name)]
}

/** The diffusers class names this SDK implements. */
export function samplerClassNames(): string[] {
  return Object.keys(CLASSES)
}

/** The alias (or class) a name refers to, or undefined. */
export function resolveSamplerName(name: string): SamplerAlias | undefined {
  if (typeof name !== 'string') return undefined
  return BY_NAME.get(normalize(name))
}

function unknownSampler(name: unknown): DiffuseError {
  const known = samplerNames()
  return new DiffuseError('UNKNOWN_SAMPLER', `Unknown sampler ${describeValue(name)}; known samplers: ${known.join(', ')}`, {
    details: { name, known },
  })
}

function isConfig(v: unknown): v is SchedulerConfig {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && typeof (v as Record<string, unknown>)['_class_name'] === 'string'
}

/**
 * The config a name gives on top of a model's base config, as diffusers' `from_config` does when one
 * switches a pipeline's scheduler: the base keeps its beta schedule, prediction type and the rest; keys
 * the base class has and the new class does not are dropped; keys listed in `_use_default_values` take
 * the new class's defaults; the alias's options and then `overrides` win.
 */
export function samplerConfigFor(name: string, base?: SchedulerConfig, overrides: Record<string, unknown> = {}): SchedulerConfig {
  const alias = resolveSamplerName(name)
  if (!alias) throw unknownSampler(name)
  return createFromAlias(alias, base, overrides).toJSON()
}

function createFromAlias(alias: SamplerAlias, base: SchedulerConfig | undefined, overrides: Record<string, unknown>): Sampler {
  const factory = CLASSES[alias.className]!
  const merged = { ...alias.options, ...overrides }
  if (!base) return factory({ _class_name: alias.className }, { overrides: merged })
  const fromClass = resolveSamplerName(base._class_name)?.className ?? base._class_name
  return factory({ ...base, _class_name: alias.className }, { overrides: merged, fromClass })
}

/**
 * Creates a sampler.
 * - `createSampler('DPM++ 2M Karras')`: a class name or alias, with diffusers' defaults for that class.
 * - `createSampler(schedulerConfig)`: a diffusers scheduler_config.json object (`_class_name` + keys;
 *   `_class_name` may also be an alias).
 * - `createSampler('Euler a', modelSchedulerConfig)`: switch a model's scheduler as diffusers'
 *   `from_config` does (see samplerConfigFor); any other keys in the second argument override.
 * - `createSampler(nameOrConfig, { eta: 0.5 })`: plain overrides.
 * Unknown names throw UNKNOWN_SAMPLER (listing the known ones); bad keys throw INVALID_CONFIG.
 */
export function createSampler(nameOrConfig: string | SchedulerConfig, overrides?: Record<string, unknown>): Sampler {
  if (overrides !== undefined && (overrides === null || typeof overrides !== 'object' || Array.isArray(overrides))) {
    throw new DiffuseError('INVALID_CONFIG', `Expected sampler overrides to be an object but received ${describeValue(overrides)}`)
  }
  if (typeof nameOrConfig === 'string') {
    const alias = resolveSamplerName(nameOrConfig)
    if (!alias) throw unknownSampler(nameOrConfig)
    if (overrides && isConfig(overrides)) return createFromAlias(alias, overrides, {})
    return createFromAlias(alias, undefined, overrides ?? {})
  }
  if (!isConfig(nameOrConfig)) {
    if (nameOrConfig !== null && typeof nameOrConfig === 'object' && !Array.isArray(nameOrConfig)) {
      throw new DiffuseError('INVALID_CONFIG', `A scheduler config needs a "_class_name" string; received ${describeValue((nameOrConfig as Record<string, unknown>)['_class_name'])}`)
    }
    throw unknownSampler(nameOrConfig)
  }
  const cls = nameOrConfig._class_name
  // own keys only: `in` would also find Object.prototype's ("constructor", "toString"; found by scripts/fuzz.ts)
  if (Object.hasOwn(CLASSES, cls)) return CLASSES[cls]!(nameOrConfig, { overrides: overrides ?? {} })
  const alias = resolveSamplerName(cls)
  if (!alias) throw unknownSampler(cls)
  const { _class_name: _ignored, ...rest } = nameOrConfig
  return createFromAlias(alias, { _class_name: alias.className, ...rest } as SchedulerConfig, overrides ?? {})
}
