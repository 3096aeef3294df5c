// Builds the native addon with cmake-js. Runs on `npm install`.
// DIFFUSEKIT_SKIP_NATIVE=1 skips the build (the SDK then runs on its TypeScript kernels).
// DIFFUSEKIT_SANITIZE=1 builds with AddressSanitizer + UndefinedBehaviorSanitizer (into build/sanitize).
// DIFFUSEKIT_NO_CUDA=1 skips the CUDA kernels; DIFFUSEKIT_CUDA_ARCHITECTURES=90 builds one GPU generation.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
if (process.env.DIFFUSEKIT_SKIP_NATIVE === '1') {
  console.warn('diffusekit: DIFFUSEKIT_SKIP_NATIVE=1, not building the native addon (TypeScript kernels will be used)')
  process.exit(0)
}
const require = createRequire(import.meta.url)
let cmakeJs
try {
  cmakeJs = join(dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js')
} catch {
  console.warn('diffusekit: cmake-js is not installed, not building the native addon (TypeScript kernels will be used)')
  process.exit(0)
}
// A sanitizer build goes to build/sanitize/Release (load it with DIFFUSEKIT_ADDON=...; see
// native/run-sanitized.sh) so that it never replaces the normal addon.
const sanitize = process.env.DIFFUSEKIT_SANITIZE === '1'
const outDir = sanitize ? join('build', 'sanitize') : 'build'
const args = [cmakeJs, 'compile', '--out', outDir]
if (sanitize) args.push('--CDDIFFUSEKIT_SANITIZE=ON')
if (process.env.DIFFUSEKIT_CUDA_ARCHITECTURES) args.push(`--CDCMAKE_CUDA_ARCHITECTURES=${process.env.DIFFUSEKIT_CUDA_ARCHITECTURES}`)
if (process.env.DIFFUSEKIT_NO_CUDA === '1') args.push('--CDDIFFUSEKIT_NO_CUDA=ON')
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' })
if (r.status !== 0 || !existsSync(join(root, outDir, 'Release', 'diffusekit.node'))) {
  console.error('diffusekit: the native addon failed to build; see the cmake output above.')
  process.exit(r.status || 1)
}
