import t from 'tap'
import { torchCpu } from '../src/core/rng/index.js'
import { createSampler } from '../src/core/samplers/registry.js'
import type { SchedulerConfig } from '../src/core/samplers/types.js'
import { getKernels } from '../src/native/loader.js'
import { referenceKernels } from '../src/native/reference.js'
import type { Kernels } from '../src/native/kernels.js'
import { listSchedulerCases, maxRelDiff, relErr, runLoop } from './helpers/sampler-run.js'

// Every file in ../shared/conformance/schedulers: class, config, loop and tolerance come from the file
// and the conformance README (relative error < 1e-4; 1e-3 for DDPM, whose values grow large).

const cases = listSchedulerCases()
const kernelSets: [string, Kernels][] = [['typescript', referenceKernels]]
const cpu = getKernels('cpu')
if (cpu.device === 'cpu') kernelSets.push(['native cpu', cpu])

t.ok(cases.length >= 9, `found ${cases.length} conformance cases`)

for (const { file, data: c } of cases) {
  t.test(file, async (t) => {
    const tol = c.class === 'DDPMScheduler' ? 1e-3 : 1e-4
    // diffusers step kwargs (e.g. DDIM's eta) are config keys of ours
    const sampler = createSampler({ _class_name: c.class, ...c.config } as SchedulerConfig, { ...c.step_kwargs })
    t.equal(sampler.className, c.class)
    const plan = sampler.plan(c.num_inference_steps)
    t.equal(plan.timesteps.length, c.timesteps.length, 'number of timesteps')
    t.ok(maxRelDiff(plan.timesteps, c.timesteps) < 1e-6, `timesteps match (max diff ${maxRelDiff(plan.timesteps, c.timesteps)})`)
    if (c.sigmas) {
      t.ok(plan.sigmas, 'plan has sigmas')
      t.equal(plan.sigmas!.length, c.sigmas.length, 'number of sigmas')
      t.ok(maxRelDiff(plan.sigmas!, c.sigmas) < 1e-5, `sigmas match (max diff ${maxRelDiff(plan.sigmas!, c.sigmas)})`)
    }
    t.ok(Math.abs(plan.initNoiseSigma - c.init_noise_sigma) <= 1e-6 * Math.max(1, c.init_noise_sigma), `init_noise_sigma ${plan.initNoiseSigma} vs ${c.init_noise_sigma}`)
    const shape = [1, 4, 8, 8]
    for (const [kname, kernels] of kernelSets) {
      for (const contiguous of c.guidance_scale === null ? [true] : [true, false]) {
        let base: Float32Array
        const generator = torchCpu(c.seed ?? 0)
        if (c.seed !== undefined) {
          base = generator.randn(shape)
          t.ok(maxRelDiff(base, c.base) === 0, 'torchCpu reproduces the base draw')
        } else {
          base = Float32Array.from(c.base)
        }
        const run = await runLoop({ sampler, steps: c.num_inference_steps, shape, base, generator, kernels, guidanceScale: c.guidance_scale, contiguousHalves: contiguous })
        const label = `${kname}${c.guidance_scale === null ? '' : contiguous ? ', fused guidance' : ', combined guidance'}`
        for (const inter of c.intermediate) {
          const e = relErr(run.samples[inter.index]!, inter.sample)
          t.ok(e < tol, `${label}: step ${inter.index} rel error ${e.toExponential(2)} < ${tol}`)
        }
        const e = relErr(run.final, c.final)
        t.ok(e < tol, `${label}: final rel error ${e.toExponential(2)} < ${tol}`)
      }
    }
  })
}
