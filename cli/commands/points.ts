import type { Command } from 'commander'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { DiffuseError } from '../../src/errors.js'
import type { GenerationRecord } from '../../src/runtime/pipeline.js'
import type { DeviceRequest } from '../../src/native/kernels.js'
import { loadPipeline } from '../../modalities/pointcloud/pipeline.js'
import { action, addCommonOptions, cliSignal, commonFromCli, createProgress, report, type CliCommonOptions } from '../shared.js'

interface PointsOptions extends CliCommonOptions {
  count: string
  out: string
  format: string
  points?: string
  preview?: boolean
  trajectory?: boolean
  model: string
  listClasses?: boolean
}

const FORMATS = ['ply', 'glb', 'html'] as const

function parseCount(name: string, v: string, min: number, max: number): number {
  const n = Number(v)
  if (v.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new DiffuseError('INVALID_ARGUMENT', `--${name} expects an integer in [${min}, ${max}], got "${v}"`)
  }
  return n
}

export function register(program: Command): void {
  const cmd = program
    .command('points')
    .description('generate 3D point clouds of a class with the bundled shapes model (PLY / GLB, HTML previews)')
    .argument('[class]', 'the class to generate (see --list-classes), e.g. chair')
    .option('-n, --count <n>', 'how many clouds (seeds seed, seed+1, ...)', '1')
    .option('-o, --out <dir>', 'output folder', '.')
    .option('-f, --format <fmt>', 'file format: ply | glb | html', 'ply')
    .option('--points <n>', 'points per cloud (default the model\'s 2048; shapes makes up to 16384)')
    .option('--preview', 'also write an HTML preview (three.js, opens from the file system) per cloud')
    .option('--trajectory', 'record the denoising steps and make them playable in the preview')
    .option('--model <name|path>', 'bundled model name or model folder', 'shapes')
    .option('--list-classes', 'print the classes and exit')
  addCommonOptions(cmd).action(
    action(async (cls: string | undefined, o: PointsOptions) => {
      const pipe = await loadPipeline(o.model, { device: (o.device ?? 'auto') as DeviceRequest })
      try {
        if (o.listClasses) {
          process.stdout.write(`classes: ${pipe.classes.join(' ')}\npoints: ${pipe.points}\n`)
          return
        }
        const common = await commonFromCli(o)
        const prompt = cls ?? (common.prompt as string | undefined)
        if (prompt === undefined) throw new DiffuseError('INVALID_ARGUMENT', `Name a class to generate, e.g. \`diffusekit points chair\`; classes: ${pipe.classes.join(', ')}`)
        pipe.classId(prompt) // fail before any work on an unknown class
        const count = parseCount('count', o.count, 1, 10000)
        const points = o.points !== undefined ? parseCount('points', o.points, 1, pipe.maxPoints) : ((common.points as number | undefined) ?? pipe.points)
        const format = o.format.toLowerCase()
        if (!(FORMATS as readonly string[]).includes(format)) throw new DiffuseError('INVALID_ARGUMENT', `--format expects one of ${FORMATS.join(', ')}, got "${o.format}"`)
        await mkdir(o.out, { recursive: true }).catch((e: Error) => {
          throw new DiffuseError('IO', `Cannot create the output folder ${o.out}: ${e.message}`)
        })
        const seed0 = (common.seed as number | undefined) ?? Math.floor(Math.random() * 2 ** 31)
        const progress = createProgress(`${prompt} 1/${count}`, o.quiet)
        const signal = cliSignal()
        const files: string[] = []
        const records: GenerationRecord[] = []
        for (let i = 0; i < count; i++) {
          progress.setLabel(`${prompt} ${i + 1}/${count}`)
          const cloud = await pipe.generate({
            ...common,
            prompt,
            points,
            seed: seed0 + i,
            trajectory: o.trajectory === true,
            onProgress: progress.onProgress,
            ...(signal ? { signal } : {}),
          })
          const base = join(o.out, `${prompt.toLowerCase()}-${seed0 + i}`)
          await cloud.save(`${base}.${format}`)
          files.push(`${base}.${format}`)
          if (o.preview && format !== 'html') {
            await cloud.save(`${base}.html`, { title: `${prompt} · seed ${seed0 + i}` })
            files.push(`${base}.html`)
          }
          if (cloud.record) records.push(cloud.record)
        }
        progress.stop()
        report(o.json, files, records.length === 1 ? records[0] : records)
      } finally {
        await pipe.dispose()
      }
    }),
  )
}
