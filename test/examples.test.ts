import t from 'tap'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const root = fileURLToPath(new URL('..', import.meta.url))

/** Runs an example as a user would (through the built package's public entry), returns stdout. */
async function example(file: string, args: string[] = [], cwd = root): Promise<string> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', fileURLToPath(new URL(`../examples/${file}`, import.meta.url)), ...args], {
    cwd,
    timeout: 240_000,
    maxBuffer: 1 << 24,
  })
  return stdout
}

t.test('examples import the built package by its name', async (t) => {
  t.ok(existsSync(new URL('../dist/src/index.js', import.meta.url)), 'dist/ is built (npm test builds it first)')
})

t.test('tiny-denoiser: samples from the exact Gaussian denoiser have its mean and std', async (t) => {
  // Heun (2nd order) with 25 steps is accurate to about 2% on this model; DDIM with 50 steps is first
  // order and shrinks the spread a little (~9%), as it does in the Python reference
  const heun = JSON.parse(await example('tiny-denoiser.ts', ['Heun', '25']))
  t.equal(heun.sampler, 'HeunDiscreteScheduler')
  t.ok(Math.abs(heun.mean - 0.5) < 0.01, `mean ${heun.mean}`)
  t.ok(Math.abs(heun.std - 0.25) < 0.25 * 0.03, `std ${heun.std}`)
  const karras = JSON.parse(await example('tiny-denoiser.ts', ['DPM++ 2M Karras', '20']))
  t.ok(Math.abs(karras.std - 0.25) < 0.25 * 0.03, `DPM++ 2M Karras std ${karras.std}`)
})
