import t, { type Test } from 'tap'
import { DiffuseError } from '../src/errors.js'
import { parseSchedulerConfigJson, stringifySchedulerConfig } from '../src/core/samplers/config.js'
import { createSampler, resolveSamplerName, SAMPLER_ALIASES, samplerClassNames, samplerConfigFor, samplerNames } from '../src/core/samplers/registry.js'
import type { SchedulerConfig } from '../src/core/samplers/types.js'

// Configs in diffusers' JSON form: round trips, diffusers' __init__ defaults, clear errors for bad keys,
// names and aliases on top of a model's config (as diffusers' from_config switches a scheduler), and step
// counts.

/** Stable Diffusion 1.5's scheduler/scheduler_config.json as published (diffusers 0.6.0). */
const SD15: SchedulerConfig = {
  _class_name: 'PNDMScheduler',
  _diffusers_version: '0.6.0',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  num_train_timesteps: 1000,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
  clip_sample: false,
}

function expectError(t: Test, fn: () => unknown, code: string, parts: (string | RegExp)[], label: string): DiffuseError | undefined {
  try {
    fn()
  } catch (err) {
    t.ok(err instanceof DiffuseError, `${label}: a DiffuseError`)
    const e = err as DiffuseError
    t.equal(e.code, code, `${label}: code ${code}`)
    for (const p of parts) t.match(e.message, p, `${label}: message mentions ${String(p)}`)
    return e
  }
  t.fail(`${label}: expected ${code}`)
  return undefined
}

t.test('every class round-trips through toJSON and the scheduler_config.json text', async (t) => {
  t.same(samplerClassNames().sort(), [
    'DDIMInverseScheduler',
    'DDIMScheduler',
    'DDPMScheduler',
    'DPMSolverMultistepScheduler',
    'EulerAncestralDiscreteScheduler',
    'EulerDiscreteScheduler',
    'HeunDiscreteScheduler',
    'KDPM2DiscreteScheduler',
    'KarrasHeunScheduler',
    'LCMScheduler',
    'LMSDiscreteScheduler',
    'PNDMScheduler',
    'UniPCMultistepScheduler',
  ])
  for (const cls of samplerClassNames()) {
    const input = { _class_name: cls, _diffusers_version: '0.40.0', num_train_timesteps: 1000, beta_start: 0.0002, my_extra_note: { a: [1, 2, 'x'] } }
    const s = createSampler(input as SchedulerConfig)
    const json = s.toJSON()
    t.equal(json._class_name, cls, `${cls}: _class_name`)
    t.equal(json['_diffusers_version'], '0.40.0', `${cls}: _diffusers_version kept`)
    t.same(json['my_extra_note'], { a: [1, 2, 'x'] }, `${cls}: an unknown harmless key kept`)
    t.equal(json['beta_start'], 0.0002, `${cls}: given value kept`)
    t.ok(Array.isArray(json['_use_default_values']) && !(json['_use_default_values'] as string[]).includes('beta_start'), `${cls}: _use_default_values lists the defaulted keys only`)
    for (const k of Object.keys(json)) if (!k.startsWith('_') && k !== 'my_extra_note') t.ok(k in s.config, `${cls}: ${k} in config`)
    const again = createSampler(json)
    t.same(again.toJSON(), json, `${cls}: toJSON → createSampler → toJSON is stable`)
    const text = stringifySchedulerConfig(json)
    t.same(createSampler(parseSchedulerConfigJson(text)).toJSON(), json, `${cls}: through the JSON text`)
  }
  // toJSON is a copy: changing it changes nothing
  const s = createSampler('DDIM')
  const j = s.toJSON()
  j['beta_start'] = 0.5
  t.equal(s.config['beta_start'], 0.0001)
  t.ok(Object.isFrozen(s.config), 'the config is frozen')
})

t.test('a published config is read unchanged and written back with its keys', async (t) => {
  const s = createSampler(SD15)
  t.equal(s.className, 'PNDMScheduler')
  const j = s.toJSON()
  for (const [k, v] of Object.entries(SD15)) t.same(j[k], v, `${k} kept`)
  // Python's json writes -Infinity bare (DPMSolverMultistepScheduler's lambda_min_clipped)
  const dpm = createSampler('DPMSolverMultistepScheduler')
  const text = stringifySchedulerConfig(dpm.toJSON())
  t.match(text, /"lambda_min_clipped": -Infinity/)
  t.equal(parseSchedulerConfigJson(text)['lambda_min_clipped'], -Infinity)
  t.equal(parseSchedulerConfigJson('{"_class_name": "X", "a": NaN, "b": "NaN"}')['b'], 'NaN', 'words inside strings stay strings')
  expectError(t, () => parseSchedulerConfigJson('{"_class_name": '), 'FILE_FORMAT', [/Malformed/], 'truncated JSON')
  expectError(t, () => parseSchedulerConfigJson('[1]'), 'FILE_FORMAT', [/object/], 'not an object')
  expectError(t, () => parseSchedulerConfigJson('{"beta_start": 0.1}'), 'FILE_FORMAT', [/_class_name/], 'no _class_name')
})

t.test('defaults equal diffusers __init__ defaults', async (t) => {
  // from the __init__ signatures of diffusers' scheduling_*.py (v0.40)
  const expected: Record<string, Record<string, unknown>> = {
    DDIMScheduler: {
      num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear', trained_betas: null, clip_sample: true,
      set_alpha_to_one: true, steps_offset: 0, prediction_type: 'epsilon', thresholding: false, dynamic_thresholding_ratio: 0.995,
      clip_sample_range: 1.0, sample_max_value: 1.0, timestep_spacing: 'leading', rescale_betas_zero_snr: false,
    },
    DPMSolverMultistepScheduler: {
      num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear', trained_betas: null, solver_order: 2,
      prediction_type: 'epsilon', thresholding: false, dynamic_thresholding_ratio: 0.995, sample_max_value: 1.0, algorithm_type: 'dpmsolver++',
      solver_type: 'midpoint', lower_order_final: true, euler_at_final: false, use_karras_sigmas: false, use_exponential_sigmas: false,
      use_beta_sigmas: false, use_lu_lambdas: false, use_flow_sigmas: false, flow_shift: 1.0, final_sigmas_type: 'zero',
      lambda_min_clipped: -Infinity, variance_type: null, timestep_spacing: 'linspace', steps_offset: 0, rescale_betas_zero_snr: false,
    },
    EulerDiscreteScheduler: {
      num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear', trained_betas: null, prediction_type: 'epsilon',
      interpolation_type: 'linear', use_karras_sigmas: false, use_exponential_sigmas: false, use_beta_sigmas: false, sigma_min: null,
      sigma_max: null, timestep_spacing: 'linspace', timestep_type: 'discrete', steps_offset: 0, rescale_betas_zero_snr: false,
      final_sigmas_type: 'zero',
    },
    UniPCMultistepScheduler: {
      num_train_timesteps: 1000, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear', solver_order: 2, prediction_type: 'epsilon',
      thresholding: false, predict_x0: true, solver_type: 'bh2', lower_order_final: true, disable_corrector: [], solver_p: null,
      use_karras_sigmas: false, timestep_spacing: 'linspace', steps_offset: 0, final_sigmas_type: 'zero', rescale_betas_zero_snr: false,
    },
    PNDMScheduler: { beta_start: 0.0001, beta_end: 0.02, skip_prk_steps: false, set_alpha_to_one: false, prediction_type: 'epsilon', timestep_spacing: 'leading', steps_offset: 0 },
    KDPM2DiscreteScheduler: { beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'linear', use_karras_sigmas: false, timestep_spacing: 'linspace' },
    HeunDiscreteScheduler: { beta_start: 0.00085, beta_end: 0.012, clip_sample: false, timestep_spacing: 'linspace' },
    LCMScheduler: {
      beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', original_inference_steps: 50, clip_sample: false,
      set_alpha_to_one: true, timestep_spacing: 'leading', timestep_scaling: 10.0,
    },
    DDPMScheduler: { variance_type: 'fixed_small', clip_sample: true, timestep_spacing: 'leading', beta_start: 0.0001, beta_end: 0.02 },
    LMSDiscreteScheduler: { beta_start: 0.0001, beta_end: 0.02, timestep_spacing: 'linspace', use_karras_sigmas: false },
    EulerAncestralDiscreteScheduler: { beta_start: 0.0001, beta_end: 0.02, timestep_spacing: 'linspace', prediction_type: 'epsilon' },
  }
  for (const [cls, keys] of Object.entries(expected)) {
    const c = createSampler(cls).config
    for (const [k, v] of Object.entries(keys)) t.same(c[k], v, `${cls}.${k} = ${JSON.stringify(v)}`)
  }
})

t.test('wrong types and values are INVALID_CONFIG errors naming the key, what was expected and what was received', async (t) => {
  const bad: [string, Record<string, unknown>, string, RegExp, RegExp][] = [
    ['DDIMScheduler', { beta_start: 'x' }, 'beta_start', /number/, /string "x"/],
    ['DDIMScheduler', { num_train_timesteps: 0 }, 'num_train_timesteps', /integer >= 1/, /number 0/],
    ['DDIMScheduler', { num_train_timesteps: 2.5 }, 'num_train_timesteps', /integer/, /number 2.5/],
    ['DDIMScheduler', { beta_schedule: 'cosine' }, 'beta_schedule', /"squaredcos_cap_v2"/, /string "cosine"/],
    ['DDIMScheduler', { prediction_type: 'eps' }, 'prediction_type', /"v_prediction"/, /string "eps"/],
    ['DDIMScheduler', { timestep_spacing: 'uniform' }, 'timestep_spacing', /"trailing"/, /string "uniform"/],
    ['DDIMScheduler', { clip_sample: 'yes' }, 'clip_sample', /boolean/, /string "yes"/],
    ['DDIMScheduler', { steps_offset: -1 }, 'steps_offset', /integer >= 0/, /number -1/],
    ['DDIMScheduler', { eta: -0.5 }, 'eta', />= 0/, /number -0.5/],
    ['DDIMScheduler', { trained_betas: [0.1, 'a'] }, 'trained_betas', /array of numbers/, /array of length 2/],
    ['DDIMScheduler', { beta_end: NaN }, 'beta_end', /finite number/, /NaN/],
    ['DDIMScheduler', { dynamic_thresholding_ratio: 1.5 }, 'dynamic_thresholding_ratio', /<= 1/, /number 1.5/],
    // a key of another class, wrongly typed, is still refused
    ['DDIMScheduler', { solver_order: 'two' }, 'solver_order', /integer/, /string "two"/],
    ['DPMSolverMultistepScheduler', { solver_order: 4 }, 'solver_order', /<= 3/, /number 4/],
    ['DPMSolverMultistepScheduler', { algorithm_type: 'dpm' }, 'algorithm_type', /"sde-dpmsolver\+\+"/, /string "dpm"/],
    ['EulerDiscreteScheduler', { use_karras_sigmas: 1 }, 'use_karras_sigmas', /boolean/, /number 1/],
    ['EulerDiscreteScheduler', { sigma_min: -1 }, 'sigma_min', /> 0/, /number -1/],
    ['UniPCMultistepScheduler', { disable_corrector: [0.5] }, 'disable_corrector', /array of integers/, /array of length 1/],
    ['LCMScheduler', { original_inference_steps: '50' }, 'original_inference_steps', /integer/, /string "50"/],
    ['KarrasHeunScheduler', { s_churn: -1 }, 's_churn', />= 0/, /number -1/],
    // an unknown key must at least be JSON
    ['DDIMScheduler', { my_callback: () => 1 }, 'my_callback', /JSON value/, /function/],
  ]
  for (const [cls, cfg, key, expected, received] of bad) {
    const e = expectError(t, () => createSampler({ _class_name: cls, ...cfg }), 'INVALID_CONFIG', [key, expected, received, cls], `${cls} ${key}`)
    t.equal(e?.details?.['key'], key, `${cls} ${key}: details.key`)
  }
  // the same through overrides and through a name
  expectError(t, () => createSampler('Euler a', { beta_start: true }), 'INVALID_CONFIG', ['beta_start', /boolean true/], 'override')
  // combinations and options that diffusers accepts but that cannot run
  expectError(t, () => createSampler('Euler', { use_karras_sigmas: true, use_exponential_sigmas: true }), 'INVALID_CONFIG', [/only one of/], 'two ladders')
  expectError(t, () => createSampler('DDIM', { trained_betas: [0.1, 0.2] }), 'INVALID_CONFIG', ['trained_betas', /2 values/, /1000/], 'trained_betas length')
  expectError(t, () => createSampler('DDPM', { variance_type: 'learned_range' }), 'INVALID_CONFIG', ['variance_type', /learned_range/], 'learned variance')
  expectError(t, () => createSampler('DPMSolverMultistepScheduler', { algorithm_type: 'dpmsolver' }), 'INVALID_CONFIG', ['final_sigmas_type', /sigma_min/], 'dpmsolver needs sigma_min')
  expectError(t, () => createSampler('Euler', { use_beta_sigmas: true }), 'INVALID_CONFIG', ['use_beta_sigmas'], 'beta sigmas')
  // UniPC steps to σ = 0 that are 0·∞ or x/0 (NaN or ±∞ in diffusers too)
  expectError(t, () => createSampler('UniPC', { predict_x0: false }), 'INVALID_CONFIG', ['final_sigmas_type', /predict_x0 false/, /sigma_min/], 'UniPC noise prediction to σ = 0')
  expectError(t, () => createSampler('UniPC', { lower_order_final: false }), 'INVALID_CONFIG', ['final_sigmas_type', /lower_order_final false/], 'UniPC multistep to σ = 0')
  t.doesNotThrow(() => createSampler('UniPC', { predict_x0: false, final_sigmas_type: 'sigma_min' }), 'UniPC noise prediction to σ_min is fine')
  t.doesNotThrow(() => createSampler('UniPC', { lower_order_final: false, solver_order: 1 }), 'UniPC first order to σ = 0 is fine')
  expectError(t, () => createSampler({ _class_name: 'DDIMScheduler', _use_default_values: 'beta_start' }), 'INVALID_CONFIG', ['_use_default_values'], '_use_default_values')
  expectError(t, () => createSampler('DDIM', [] as unknown as Record<string, unknown>), 'INVALID_CONFIG', [/object/, /array/], 'overrides array')
  expectError(t, () => createSampler({ beta_start: 0.1 } as unknown as SchedulerConfig), 'INVALID_CONFIG', ['_class_name'], 'no _class_name')
  // and the values that are valid are kept as given
  const s = createSampler('DDIM', { trained_betas: Array.from({ length: 1000 }, (_, i) => 0.0001 + i * 1e-5) })
  t.equal((s.config['trained_betas'] as number[]).length, 1000)
})

t.test('unknown classes and names are UNKNOWN_SAMPLER errors listing the known names', async (t) => {
  for (const bad of ['FooScheduler', 'DPM++ 9M', '', { _class_name: 'FlowMatchEulerDiscreteScheduler' }] as const) {
    const e = expectError(t, () => createSampler(bad as string), 'UNKNOWN_SAMPLER', [/known samplers/, /DDIMScheduler/, /DPM\+\+ 2M Karras/, /Euler a/], `unknown ${JSON.stringify(bad)}`)
    t.same(e?.details?.['known'], samplerNames(), 'details.known lists every name')
  }
  expectError(t, () => createSampler(42 as unknown as string), 'UNKNOWN_SAMPLER', [/number 42/], 'a number')
  expectError(t, () => samplerConfigFor('nope'), 'UNKNOWN_SAMPLER', [/"nope"/], 'samplerConfigFor')
  t.equal(resolveSamplerName('nope'), undefined)
  t.equal(resolveSamplerName(3 as unknown as string), undefined)
})

t.test('names and aliases create the right class and options on top of a model config', async (t) => {
  const base: SchedulerConfig = { ...SD15, prediction_type: 'v_prediction', rescale_betas_zero_snr: false }
  const cases: [string, string, Record<string, unknown>][] = [
    ['DPM++ 2M Karras', 'DPMSolverMultistepScheduler', { algorithm_type: 'dpmsolver++', solver_order: 2, use_karras_sigmas: true }],
    ['dpm++2m karras', 'DPMSolverMultistepScheduler', { algorithm_type: 'dpmsolver++', solver_order: 2, use_karras_sigmas: true }],
    ['DPM++ 2M SDE Karras', 'DPMSolverMultistepScheduler', { algorithm_type: 'sde-dpmsolver++', solver_order: 2, use_karras_sigmas: true }],
    ['DPM++ 3M', 'DPMSolverMultistepScheduler', { algorithm_type: 'dpmsolver++', solver_order: 3, use_karras_sigmas: false }],
    ['dpmpp_2m_sde', 'DPMSolverMultistepScheduler', { algorithm_type: 'sde-dpmsolver++', solver_order: 2 }],
    ['Euler a', 'EulerAncestralDiscreteScheduler', {}],
    ['euler_ancestral', 'EulerAncestralDiscreteScheduler', {}],
    ['Euler', 'EulerDiscreteScheduler', { use_karras_sigmas: false }],
    ['Euler Karras', 'EulerDiscreteScheduler', { use_karras_sigmas: true }],
    ['Heun', 'HeunDiscreteScheduler', { use_karras_sigmas: false }],
    ['LMS Karras', 'LMSDiscreteScheduler', { use_karras_sigmas: true }],
    ['LMS', 'LMSDiscreteScheduler', { use_karras_sigmas: false }],
    ['DPM2 Karras', 'KDPM2DiscreteScheduler', { use_karras_sigmas: true }],
    ['UniPC', 'UniPCMultistepScheduler', { use_karras_sigmas: false }],
    ['uni_pc', 'UniPCMultistepScheduler', {}],
    ['LCM', 'LCMScheduler', {}],
    ['EDM Heun', 'KarrasHeunScheduler', {}],
    ['Karras Heun', 'KarrasHeunScheduler', {}],
    ['DDIM', 'DDIMScheduler', {}],
    ['DDPM', 'DDPMScheduler', {}],
    ['PLMS', 'PNDMScheduler', { skip_prk_steps: true }],
    ['ddimscheduler', 'DDIMScheduler', {}],
    ['EulerAncestralDiscreteScheduler', 'EulerAncestralDiscreteScheduler', {}],
  ]
  for (const [name, cls, options] of cases) {
    const s = createSampler(name, base)
    t.equal(s.className, cls, `"${name}" → ${cls}`)
    for (const [k, v] of Object.entries(options)) t.same(s.config[k], v, `"${name}": ${k} = ${JSON.stringify(v)}`)
    // the model's schedule and prediction type are kept
    for (const k of ['beta_start', 'beta_end', 'beta_schedule', 'num_train_timesteps', 'prediction_type']) t.same(s.config[k], base[k], `"${name}": ${k} kept`)
    if ('steps_offset' in s.config) t.equal(s.config['steps_offset'], 1, `"${name}": steps_offset kept`)
    t.equal(s.predictionType, 'v_prediction')
    // a key only the base class knows is dropped, as diffusers' from_config drops it
    if (cls !== 'PNDMScheduler') t.notOk('skip_prk_steps' in s.config, `"${name}": the base class's own key dropped`)
    t.same(samplerConfigFor(name, base), s.toJSON(), `"${name}": samplerConfigFor gives the same config`)
    // a name alone: the class's own defaults plus the alias options
    const plain = createSampler(name)
    t.equal(plain.className, cls)
    t.equal(plain.config['prediction_type'], 'epsilon')
  }
  // every listed alias resolves to a class this SDK implements
  for (const a of SAMPLER_ALIASES) t.ok(samplerClassNames().includes(a.className), `${a.name} → ${a.className}`)
  // explicit overrides win over the alias and the base
  const o = createSampler('DPM++ 2M Karras', { ...base, solver_order: 3 })
  t.equal(o.config['solver_order'], 2, 'the alias wins over a base key')
  t.equal(createSampler({ ...base, _class_name: 'DPM++ 2M Karras' }, { solver_order: 3 }).config['solver_order'], 3, 'overrides win over the alias')
  // _use_default_values: the listed keys take the new class's defaults (diffusers' from_config)
  const withDefaults = createSampler('Euler', { ...base, timestep_spacing: 'leading', _use_default_values: ['timestep_spacing'] })
  t.equal(withDefaults.config['timestep_spacing'], 'linspace', "a listed key takes Euler's own default")
  t.equal(createSampler('Euler', { ...base, timestep_spacing: 'leading' }).config['timestep_spacing'], 'leading', 'an unlisted key is kept')
  // the alias works as a _class_name too
  t.equal(createSampler({ _class_name: 'Euler a' }).className, 'EulerAncestralDiscreteScheduler')
})

t.test('bad step counts are INVALID_ARGUMENT errors', async (t) => {
  for (const cls of samplerClassNames()) {
    const s = createSampler(cls)
    for (const bad of [0, -1, 2.5, NaN, Infinity, '10', null]) {
      expectError(t, () => s.plan(bad as number), 'INVALID_ARGUMENT', [/numInferenceSteps/, /integer >= 1/], `${cls}.plan(${String(bad)})`)
    }
    if (cls === 'KarrasHeunScheduler') continue // a continuous ladder: no training-timestep limit
    const limit = cls === 'LCMScheduler' ? 50 : 1000
    t.doesNotThrow(() => s.plan(cls === 'PNDMScheduler' ? 100 : limit), `${cls}: ${limit} steps are fine`)
    expectError(t, () => s.plan(limit + 1), 'INVALID_ARGUMENT', [/numInferenceSteps/, String(limit + 1), String(limit)], `${cls}.plan(${limit + 1})`)
  }
  expectError(t, () => createSampler('PNDMScheduler').plan(3), 'INVALID_ARGUMENT', [/at least 4/], 'PRK needs 4 steps')
  expectError(t, () => createSampler('DDIM', { steps_offset: 500 }).plan(2), 'INVALID_ARGUMENT', [/outside the training schedule/, /steps_offset/], 'timesteps past the schedule')
  expectError(t, () => createSampler('LCM', { original_inference_steps: 2000 }).plan(4), 'INVALID_CONFIG', ['original_inference_steps'], 'LCM original steps')
})
