import { npArange, npLinspace, roundHalfEven } from './numeric.js'

/**
 * diffusers' `timestep_spacing` (Lin et al. 2023, Table 2) for the samplers that step between integer
 * training timesteps (DDPM, DDIM, PNDM): descending integers.
 */
export function integerTimesteps(spacing: string, numTrain: number, n: number, stepsOffset: number): number[] {
  if (spacing === 'linspace') return npLinspace(0, numTrain - 1, n).map(roundHalfEven).reverse()
  if (spacing === 'leading') {
    const ratio = Math.floor(numTrain / n)
    return npArange(0, n, 1)
      .map((i) => i * ratio + stepsOffset)
      .reverse()
  }
  // trailing
  return npArange(numTrain, 0, -numTrain / n).map((v) => roundHalfEven(v) - 1)
}

/**
 * The same spacings as the k-diffusion style samplers (Euler, Heun, LMS, KDPM2) compute them: float32
 * values, linspace unrounded (so fractional timesteps reach the model).
 */
export function floatTimesteps(spacing: string, numTrain: number, n: number, stepsOffset: number): number[] {
  const f = Math.fround
  if (spacing === 'linspace') return npLinspace(0, numTrain - 1, n).map(f).reverse()
  if (spacing === 'leading') {
    const ratio = Math.floor(numTrain / n)
    return npArange(0, n, 1)
      .map((i) => f(i * ratio) + stepsOffset)
      .reverse()
  }
  return npArange(numTrain, 0, -numTrain / n).map((v) => f(roundHalfEven(v)) - 1)
}

/**
 * The n + 1 point spacings of the multistep solvers (DPM-Solver++, UniPC): one more point is laid out
 * and the last (t = 0 side) dropped, so the final step lands on the clean end.
 */
export function multistepTimesteps(spacing: string, numTrain: number, lastTimestep: number, n: number, stepsOffset: number): number[] {
  if (spacing === 'linspace') {
    return npLinspace(0, lastTimestep - 1, n + 1)
      .map(roundHalfEven)
      .reverse()
      .slice(0, n)
  }
  if (spacing === 'leading') {
    const ratio = Math.floor(lastTimestep / (n + 1))
    return npArange(0, n + 1, 1)
      .map((i) => i * ratio)
      .reverse()
      .slice(0, n)
      .map((t) => t + stepsOffset)
  }
  return npArange(lastTimestep, 0, -numTrain / n).map((v) => roundHalfEven(v) - 1)
}
