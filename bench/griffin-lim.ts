/**
 * Griffin-Lim: native CPU (C++, thread pool) vs the TypeScript reference, side by side on this
 * machine, plus torchaudio's GriffinLim measured on the GPU machine (numbers below, labelled).
 *
 *   node --import tsx bench/griffin-lim.ts [--quick]
 *
 * --quick uses 128 frames instead of 512 (the TypeScript Riffusion run takes about a minute).
 */
import { cpus } from 'node:os'
import { griffinLim, griffinLimReference } from '../modalities/audio/griffin-lim.js'
import { nativeAudioStatus } from '../src/native/audio.js'
import { nativeInfo } from '../src/native/loader.js'

/** torchaudio 2.11 GriffinLim (momentum 0.99, rand_init), training/audio/riffusion_reference.py and
 * bench/gpu/griffin_lim_cuda.py on the GPU machine (NVIDIA H200, 16 CPU cores), 2026-11-26. */
const TORCHAUDIO_SECONDS: Record<string, Record<string, number>> = {
  'riffusion 32': { 'NVIDIA H200': 0.0183, 'cpu 16 threads': 1.569, 'cpu 2 threads': 7.108 },
  'riffusion 100': { 'NVIDIA H200': 0.0592 },
  'stft1024 32': { 'NVIDIA H200': 0.0135, 'cpu 16 threads': 0.0693, 'cpu 2 threads': 0.154 },
  'stft1024 100': { 'NVIDIA H200': 0.0348, 'cpu 16 threads': 0.2066, 'cpu 2 threads': 0.4215 },
}

const quick = process.argv.includes('--quick')
const frames = quick ? 128 : 512

function randomMagnitude(bins: number, n: number, seed: number): Float32Array {
  let s = seed >>> 0
  return Float32Array.from({ length: bins * n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 4294967296 + 0.01
  })
}

async function time(fn: () => Promise<unknown> | unknown): Promise<number> {
  const t0 = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - t0) / 1e9
}

const status = nativeAudioStatus()
const info = nativeInfo()
console.log(`# Griffin-Lim on ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} threads), native threads ${info.threads}, ${frames} frames`)
if (!status.cpu) console.log(`native Griffin-Lim unavailable (${status.cudaError}); only TypeScript is timed`)

const settings = [
  { key: 'riffusion', label: 'Riffusion (n_fft 17640, hop 441, win 4410)', nFft: 17640, hop: 441, win: 4410 },
  { key: 'stft1024', label: 'n_fft 1024, hop 256, win 1024', nFft: 1024, hop: 256, win: 1024 },
]
const rows: string[] = []
rows.push('| setting | iterations | frames | TypeScript s | native CPU s | native/TS speed-up | torchaudio CPU (2 thr, GPU machine) s | torchaudio H200 s |')
rows.push('|---|---|---|---|---|---|---|---|')
for (const st of settings) {
  const bins = Math.floor(st.nFft / 2) + 1
  const mag = randomMagnitude(bins, frames, 1)
  for (const iterations of [32, 100]) {
    if (st.key === 'riffusion' && iterations === 100) continue
    const o = { nFft: st.nFft, hop: st.hop, win: st.win, iterations, seed: 1 }
    // Warm both paths (plans, JIT) on a short run first.
    griffinLimReference(mag.subarray(0, bins * 32), { ...o, iterations: 1 })
    if (status.cpu) await griffinLim(mag.subarray(0, bins * 32), { ...o, iterations: 1, device: 'cpu' })
    const tsSeconds = await time(() => griffinLimReference(mag, o))
    const nativeSeconds = status.cpu ? await time(() => griffinLim(mag, { ...o, device: 'cpu' })) : NaN
    const ta = TORCHAUDIO_SECONDS[`${st.key} ${iterations}`] ?? {}
    // torchaudio figures are for 512 frames; scale linearly when --quick runs fewer.
    const scale = frames / 512
    const fmt = (v: number | undefined): string => (v === undefined ? '–' : (v * scale).toFixed(3))
    rows.push(
      `| ${st.label} | ${iterations} | ${frames} | ${tsSeconds.toFixed(3)} | ${nativeSeconds.toFixed(3)} | ${(tsSeconds / nativeSeconds).toFixed(2)}× | ${fmt(ta['cpu 2 threads'])} | ${fmt(ta['NVIDIA H200'])} |`,
    )
    console.log(rows[rows.length - 1])
  }
}
console.log('\n' + rows.join('\n'))
