// Turns the GPU run's JSON (cuda-bench.json from run-gpu-checks.mjs, torch-bench.json from
// torch_eager.py) into the markdown section of bench/results/kernels.md (between the gpu markers).
//   node bench/gpu/report.mjs <dir with the JSON files> [--date ISO] [--write]
import { readFileSync, writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const dir = process.argv[2]
const cuda = JSON.parse(readFileSync(join(dir, 'cuda-bench.json'), 'utf8'))
const torch = existsSync(join(dir, 'torch-bench.json')) ? JSON.parse(readFileSync(join(dir, 'torch-bench.json'), 'utf8')) : { rows: [] }
const get = (rows, kind, n) => rows.find((r) => r.kind === kind && r.n === n)
const sizes = [...new Set(cuda.rows.map((r) => r.n))].sort((a, b) => a - b)
const fmtN = (n) => (n >= 1 << 20 ? `${n / (1 << 20)}M` : `${n / 1024}K`)
const lines = []
lines.push('| floats | copy GB/s (cudaMemcpy D2D) | write GB/s | Philox GB/s (% of write) | PyTorch randn GB/s | guidance GB/s (% copy) | PyTorch guidance GB/s | guided step GB/s (% copy) | PyTorch guided step GB/s | guided step speed-up vs PyTorch | step speed-up | rescaled guidance speed-up |')
lines.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
for (const n of sizes) {
  const copy = get(cuda.rows, 'copy', n)
  const copyK = get(cuda.rows, 'copyKernel', n)
  const bw = Math.max(copy.gbps, copyK?.gbps ?? 0)
  const write = get(cuda.rows, 'write', n)
  const ph = get(cuda.rows, 'philox', n)
  const g = get(cuda.rows, 'guidance', n)
  const gs = get(cuda.rows, 'guidedStep', n)
  const st = get(cuda.rows, 'step', n)
  const gr = get(cuda.rows, 'guidanceRescale', n)
  const tph = get(torch.rows, 'philox', n)
  const tg = get(torch.rows, 'guidance', n)
  const tgs = get(torch.rows, 'guidedStep', n)
  const tst = get(torch.rows, 'step', n)
  const tgr = get(torch.rows, 'guidanceRescale', n)
  const pct = (a, b) => `${((100 * a) / b).toFixed(0)}%`
  lines.push(
    `| ${fmtN(n)} | ${copy.gbps.toFixed(0)} | ${write.gbps.toFixed(0)} | ${ph.gbps.toFixed(0)} (${pct(ph.gbps, write.gbps)}) | ${tph ? tph.gbps.toFixed(0) : '–'} | ${g.gbps.toFixed(0)} (${pct(g.gbps, bw)}) | ${tg ? tg.gbps.toFixed(0) : '–'} | ${gs.gbps.toFixed(0)} (${pct(gs.gbps, bw)}) | ${tgs ? tgs.gbps.toFixed(0) : '–'} | ${tgs ? (tgs.ms / gs.ms).toFixed(1) + '×' : '–'} | ${tst ? (tst.ms / st.ms).toFixed(1) + '×' : '–'} | ${tgr ? (tgr.ms / gr.ms).toFixed(1) + '×' : '–'} |`,
  )
}
const text = lines.join('\n')
console.log(text)
if (process.argv.includes('--write')) {
  const file = fileURLToPath(new URL('../results/kernels.md', import.meta.url))
  let md = readFileSync(file, 'utf8')
  const re = /<!-- gpu-table:begin[\s\S]*?<!-- gpu-table:end -->/
  const block = `<!-- gpu-table:begin (written by bench/gpu/report.mjs) -->\n${text}\n<!-- gpu-table:end -->`
  md = re.test(md) ? md.replace(re, block) : md + '\n' + block + '\n'
  writeFileSync(file, md)
}
