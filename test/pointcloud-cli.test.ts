import t from 'tap'
import { Command } from 'commander'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { register } from '../cli/commands/points.js'
import { PointCloud } from '../modalities/pointcloud/index.js'

// `diffusekit points` in-process: a commander program with only this command, stdout/stderr captured.
async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const program = new Command().exitOverride()
  register(program)
  let out = ''
  let err = ''
  const w1 = process.stdout.write.bind(process.stdout)
  const w2 = process.stderr.write.bind(process.stderr)
  process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write
  process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write
  const before = process.exitCode
  process.exitCode = 0
  try {
    await program.parseAsync(['node', 'diffusekit', 'points', ...args])
  } finally {
    process.stdout.write = w1
    process.stderr.write = w2
  }
  const code = Number(process.exitCode ?? 0)
  process.exitCode = before
  return { code, out, err }
}

const dir = mkdtempSync(join(tmpdir(), 'dk-points-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

t.test('points chair --count 2 --preview writes PLY files and HTML previews', async (t) => {
  const out = join(dir, 'clouds')
  const r = await cli(['chair', '--count', '2', '--out', out, '--preview', '--seed', '5', '--steps', '1', '--sampler', 'DDIM', '--guidance', '1', '--quiet', '--json'])
  t.equal(r.code, 0, r.err)
  t.same(readdirSync(out).sort(), ['chair-5.html', 'chair-5.ply', 'chair-6.html', 'chair-6.ply'])
  const result = JSON.parse(r.out)
  t.equal(result.files.length, 4)
  t.same(result.record.map((x: { generator: { seed: number } }) => x.generator.seed), [5, 6])
  const cloud = await PointCloud.load(join(out, 'chair-5.ply'))
  t.equal(cloud.count, 2048)
  t.ok(cloud.colors)
  const glb = await cli(['cube', '--out', out, '--format', 'glb', '--points', '64', '--seed', '1', '--steps', '1', '--sampler', 'DDIM', '--guidance', '1', '--quiet'])
  t.equal(glb.code, 0, glb.err)
  t.ok(existsSync(join(out, 'cube-1.glb')))
  t.match(glb.out, /wrote .*cube-1\.glb/)
  const list = await cli(['--list-classes'])
  t.match(list.out, /classes: .*chair.*teapot/)
})

t.test('bad input: clear messages and usage exit codes, no files', async (t) => {
  const out = join(dir, 'bad')
  const cases: [string[], RegExp][] = [
    [['dragon', '--out', out], /Unknown class "dragon".*known classes: sphere/],
    [['chair', '--count', '0', '--out', out], /--count expects an integer/],
    [['chair', '--count', 'many', '--out', out], /--count expects an integer/],
    [['chair', '--points', '100000', '--out', out], /--points expects an integer in \[1, 16384\]/],
    [['chair', '--format', 'obj', '--out', out], /--format expects one of ply, glb, html/],
    [['chair', '--steps', 'x', '--out', out], /--steps expects an integer/],
    [['--out', out], /Name a class/],
  ]
  for (const [args, message] of cases) {
    const r = await cli(args)
    t.equal(r.code, 2, args.join(' '))
    t.match(r.err, message)
  }
  t.notOk(existsSync(out) && readdirSync(out).length > 0, 'nothing written')
})
