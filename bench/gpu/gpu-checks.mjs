// GPU correctness checks, shared by test/gpu/kernels.test.ts (tap, TypeScript sources) and
// bench/gpu/run-gpu-checks.mjs (plain node on the GPU machine, compiled sources). Plain JavaScript
// so that both can import it. Each check returns { name, ok, detail }.
//   api: { getKernels, referenceKernels, nativeInfo, loadAddon }  (from src/native/index)
//   options.small: smaller sizes (for compute-sanitizer runs, which are 10-100x slower)

function bitsDiffer(a, b) {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length)
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length)
  let d = 0
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) d++
  return d
}

function randn(ref, n, seed) {
  const a = new Float32Array(n)
  ref.philoxNormal(seed, 0, a)
  return a
}

/** Largest |a − e| / (|e| + 1): float32 rounding of values of order 1 stays near 1e-7. */
function worstRel(a, e) {
  let w = 0
  for (let i = 0; i < a.length; i++) {
    const r = Math.abs(a[i] - e[i]) / (Math.abs(e[i]) + 1)
    if (!(r <= w)) w = r
  }
  return w
}

export async function runGpuChecks(api, options = {}) {
  const small = !!options.small
  const results = []
  const check = (name, ok, detail) => results.push({ name, ok: !!ok, detail: String(detail ?? '') })
  const info = api.nativeInfo()
  if (!info.cudaAvailable) {
    check('CUDA device present', false, info.cudaError ?? info.error ?? 'no CUDA')
    return { info, results }
  }
  const cuda = api.getKernels('cuda')
  const cpu = api.getKernels('cpu')
  const ref = api.referenceKernels
  check('getKernels("cuda") is the CUDA implementation', cuda.device === 'cuda', cuda.device)
  check('getKernels("auto") picks CUDA', api.getKernels('auto').device === 'cuda', api.getKernels('auto').device)

  // Philox: bit-identical CUDA vs TypeScript (many seeds/offsets), and CUDA vs native CPU (long streams)
  {
    const seeds = [0n, 1n, 42n, 0xffffffffn, 0x100000000n, (1n << 64n) - 1n, 0x243f6a8885a308d3n, 0x9e3779b97f4a7c15n]
    const offsets = [0, 1, 2, 3, 5, 4097, 2 ** 34 + 1, 2 ** 53 - 1 - 5000]
    let cases = 0
    let bad = 0
    for (const seed of seeds) {
      for (const off of offsets) {
        for (const n of [1, 3, 4, small ? 1001 : 5001]) {
          if (off + n > 2 ** 53 - 1) continue
          const a = new Float32Array(n)
          const b = new Float32Array(n)
          cuda.philoxNormal(seed, off, a)
          ref.philoxNormal(seed, off, b)
          if (bitsDiffer(a, b)) bad++
          cases++
        }
      }
    }
    check('philox CUDA == TypeScript, bit for bit', bad === 0, `${cases} (seed, offset, length) cases, ${bad} differ`)
    const n = small ? 100_003 : 20_000_003
    for (const off of [0, 3]) {
      const a = new Float32Array(n)
      const b = new Float32Array(n)
      cuda.philoxNormal(7n, off, a)
      cpu.philoxNormal(7n, off, b)
      check(`philox CUDA == native CPU, ${n} values from offset ${off}`, bitsDiffer(a, b) === 0, `${bitsDiffer(a, b)} differ`)
    }
    const c = new Float32Array(small ? 1000 : 1_000_000)
    await cuda.philoxNormalAsync(7n, 0, c)
    const d = new Float32Array(c.length)
    ref.philoxNormal(7n, 0, d)
    check('philox CUDA async == TypeScript', bitsDiffer(c, d) === 0, `${bitsDiffer(c, d)} differ`)
  }

  // Guidance combine: no rescale is bit-identical to the CPU (same float ops, no FMA); with rescale within rounding
  {
    const n = small ? 2 * 4099 : 2 * 1_000_003
    const u = randn(ref, n, 1n)
    const c = randn(ref, n, 2n)
    for (const [scale, rescale, batch] of [[7.5, 0, 1], [-2, 0, 2], [7.5, 0.7, 2], [3, 1, 1]]) {
      const g = new Float32Array(n)
      const h = new Float32Array(n)
      const r = new Float32Array(n)
      cuda.guidanceCombine(u, c, scale, rescale, batch, g)
      cpu.guidanceCombine(u, c, scale, rescale, batch, h)
      ref.guidanceCombine(u, c, scale, rescale, batch, r)
      const w = worstRel(g, r)
      check(`guidance scale ${scale} rescale ${rescale} batch ${batch}: CUDA vs float64 reference`, w < 3e-6, `max rel error ${w.toExponential(2)}; ${bitsDiffer(g, h)} of ${n} differ from native CPU bits`)
    }
    const g = new Float32Array(n)
    await cuda.guidanceCombineAsync(u, c, 7.5, 0.7, 2, g)
    const r = new Float32Array(n)
    ref.guidanceCombine(u, c, 7.5, 0.7, 2, r)
    check('guidance async with rescale', worstRel(g, r) < 3e-6, worstRel(g, r).toExponential(2))
  }

  // Fused step: every prediction type, clip, recompute, guidance halves, noise, x0Out; odd lengths (scalar path)
  {
    for (const n of small ? [1003, 4096] : [1003, 1_000_000, 1_000_003]) {
      const x = randn(ref, n, 11n)
      const m = randn(ref, 2 * n, 12n)
      const z = randn(ref, n, 13n)
      let worst = 0
      let worstX0 = 0
      let configs = 0
      let identical = 0
      for (const predictionType of ['epsilon', 'v_prediction', 'sample']) {
        for (const clipSample of [null, 1]) {
          for (const recomputeEps of [false, true]) {
            for (const guidanceScale of [null, 7.5]) {
              for (const noise of [false, true]) {
                const p = {
                  predictionType,
                  alphaProdSqrt: Math.sqrt(0.3),
                  betaProdSqrt: Math.sqrt(0.7),
                  clipSample,
                  recomputeEps,
                  coefX0: Math.sqrt(0.55),
                  coefEps: 0.5,
                  coefSample: 0.1,
                  coefNoise: noise ? 0.3 : 0,
                  guidanceScale,
                }
                const model = guidanceScale === null ? m.subarray(0, n) : m
                const a = new Float32Array(n)
                const ax0 = new Float32Array(n)
                const b = new Float32Array(n)
                const bx0 = new Float32Array(n)
                const c = new Float32Array(n)
                cuda.fusedStep(x, model, noise ? z : null, p, a, ax0)
                ref.fusedStep(x, model, noise ? z : null, p, b, bx0)
                cpu.fusedStep(x, model, noise ? z : null, p, c)
                worst = Math.max(worst, worstRel(a, b))
                worstX0 = Math.max(worstX0, worstRel(ax0, bx0))
                if (bitsDiffer(a, c) === 0) identical++
                configs++
              }
            }
          }
        }
      }
      check(`fused step n=${n}: CUDA vs TypeScript reference (${configs} configurations)`, worst < 5e-6 && worstX0 < 5e-6, `max rel error out ${worst.toExponential(2)}, x0 ${worstX0.toExponential(2)}; bit-identical to native CPU in ${identical}/${configs}`)
    }
    const n = small ? 4096 : 4_000_000
    const x = randn(ref, n, 21n)
    const m = randn(ref, 2 * n, 22n)
    const z = randn(ref, n, 23n)
    const p = { predictionType: 'epsilon', alphaProdSqrt: 0.6, betaProdSqrt: 0.8, coefX0: 0.7, coefEps: 0.5, coefSample: 0, coefNoise: 0.2, guidanceScale: 5 }
    const a = new Float32Array(n)
    const b = new Float32Array(n)
    await cuda.fusedStepAsync(x, m, z, p, a)
    cuda.fusedStep(x, m, z, p, b)
    check('fused step async == sync on CUDA', bitsDiffer(a, b) === 0, `${bitsDiffer(a, b)} differ`)
  }

  // Bad input on the CUDA kernels: DiffuseErrors, not crashes
  {
    const codes = []
    for (const call of [
      () => cuda.philoxNormal(-1n, 0, new Float32Array(4)),
      () => cuda.guidanceCombine(new Float32Array(8), new Float32Array(7), 1, 0, 1, new Float32Array(8)),
      () => cuda.fusedStep(new Float32Array(8), new Float32Array(8), null, { predictionType: 'epsilon', alphaProdSqrt: 1, betaProdSqrt: 0, coefX0: 1, coefEps: 0, coefSample: 0, coefNoise: 1 }, new Float32Array(8)),
    ]) {
      try {
        call()
        codes.push('no error')
      } catch (e) {
        codes.push(e && e.code)
      }
    }
    check('CUDA kernels refuse bad input with INVALID_ARGUMENT', codes.every((c) => c === 'INVALID_ARGUMENT'), codes.join(', '))
  }
  return { info, results }
}
