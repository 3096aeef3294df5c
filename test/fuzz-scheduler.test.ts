import t from 'tap'
import { createSampler } from '../src/core/samplers/registry.js'
import { mutateJson, randomJson, rng, type Json } from './helpers/fuzz.js'
import { SCHEDULER_KEYS, schedulerTarget } from './helpers/fuzz-targets.js'
import { runCases } from './helpers/fuzz-run.js'

// Generative fuzz of scheduler_config.json handling: mutated configs of every sampler class go through
// readJsonObject + createSampler + plan + a short sample() run. Each must either sample finite values or
// be refused with a DiffuseError (INVALID_CONFIG / UNKNOWN_SAMPLER / FILE_FORMAT / NON_FINITE ...).

t.test('1000 mutated scheduler configs: clean refusals or finite samples', async (t) => {
  const tally = await runCases(schedulerTarget, 0x5eed03, 1000)
  t.same(tally.failures, [], 'no non-DiffuseError exception, no garbage')
  t.ok(tally.ok > 100, `${tally.ok} accepted and sampled`)
  t.ok((tally.refused.INVALID_CONFIG ?? 0) > 100, `${tally.refused.INVALID_CONFIG} refused as INVALID_CONFIG`)
  t.comment(JSON.stringify(tally.refused))
})

t.test('random JSON values straight into createSampler: only DiffuseErrors', async (t) => {
  const r = rng(0x5eed04)
  let refused = 0
  let created = 0
  for (let i = 0; i < 2000; i++) {
    let v: Json = i % 2 ? randomJson(r, 3, SCHEDULER_KEYS) : { _class_name: SCHEDULER_KEYS[43 + (i % 12)]!, beta_schedule: 'linear' }
    for (let k = 0; k < 3; k++) v = mutateJson(v, r, SCHEDULER_KEYS)
    try {
      const s = createSampler(v as never, i % 7 === 0 ? (randomJson(r, 2, SCHEDULER_KEYS) as never) : undefined)
      s.plan(1 + (i % 30))
      created++
    } catch (e) {
      if (!(e instanceof Error) || e.name !== 'DiffuseError') {
        t.fail(`${JSON.stringify(v).slice(0, 300)} -> ${String(e)}`)
        return
      }
      refused++
    }
  }
  t.ok(refused > 0 && created > 0, `${created} created, ${refused} refused`)
})

t.test('configs with a wrong type name the key and what was expected', async (t) => {
  t.throws(() => createSampler({ _class_name: 'DDIMScheduler', num_train_timesteps: 'many' }), { code: 'INVALID_CONFIG', message: /num_train_timesteps/ })
  t.throws(() => createSampler({ _class_name: 'DDIMScheduler', beta_schedule: 'cubic' }), { code: 'INVALID_CONFIG', message: /beta_schedule/ })
  t.throws(() => createSampler({ _class_name: 'NoSuchScheduler' }), { code: 'UNKNOWN_SAMPLER' })
  t.throws(() => createSampler({ _class_name: 'DDIMScheduler', trained_betas: [0.1, 'x'] }), { code: 'INVALID_CONFIG', message: /trained_betas/ })
})

t.test('a _class_name that names an Object.prototype member is UNKNOWN_SAMPLER (found by the fuzzer)', async (t) => {
  for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf']) {
    t.throws(() => createSampler({ _class_name: name }), { name: 'DiffuseError', code: 'UNKNOWN_SAMPLER' }, name)
  }
})
