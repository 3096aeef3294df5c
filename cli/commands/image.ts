import type { Command } from 'commander'
import { DiffuseError } from '../../src/errors.js'
import type { DeviceRequest } from '../../src/native/kernels.js'
import type { GeneratorKind } from '../../src/core/rng/types.js'
import { loadPipeline } from '../../modalities/image/pipeline.js'
import { action, addCommonOptions, cliSignal, commonFromCli, createProgress, report, type CliCommonOptions } from '../shared.js'

interface ImageOptions extends CliCommonOptions {
  output: string
  model: string
  negative?: string
  width?: string
  height?: string
  batch?: string
  init?: string
  strength?: string
  mask?: string
  rescale?: string
  generator?: string
}

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (v.trim() === '' || !Number.isFinite(n)) throw new DiffuseError('INVALID_ARGUMENT', `--${name} expects a number, got "${v}"`)
  return n
}

export function register(program: Command): void {
  const cmd = program
    .command('image')
    .description('draw an image from a text prompt with the bundled emoji model or a Stable Diffusion ONNX folder, and write PNG')
    .argument('[prompt...]', 'what to draw, e.g. "red apple"')
    .option('-o, --output <file.png>', 'output PNG (a batch writes name-1.png, name-2.png, ...)', 'image.png')
    .option('--model <name|path>', 'bundled model name or a diffusers/Optimum ONNX folder', 'emoji')
    .option('-n, --negative <text>', 'negative prompt: what to steer away from')
    .option('-W, --width <px>', 'width in pixels (multiple of 8 and of the VAE factor)')
    .option('-H, --height <px>', 'height in pixels')
    .option('--batch <n>', 'images to make; image i uses seed + i')
    .option('--init <file.png>', 'img2img: start from this picture')
    .option('--strength <0..1>', 'img2img: how much to change the init picture (default 0.8)')
    .option('--mask <file.png>', 'inpainting (with --init): white = redraw, black = keep')
    .option('--rescale <0..1>', 'guidance rescale φ')
    .option('--generator <kind>', 'philox | torch-cpu | torch-cuda (torch-cpu: same noise as a diffusers pipeline for a seed)')
  addCommonOptions(cmd).action(
    action(async (words: string[], o: ImageOptions) => {
      const common = await commonFromCli(o)
      const prompt = words.length > 0 ? words.join(' ') : ((common.prompt as string | undefined) ?? '')
      const sd = await loadPipeline(o.model, { device: (o.device ?? 'auto') as DeviceRequest })
      try {
        const progress = createProgress('drawing', o.quiet)
        const signal = cliSignal()
        const width = int('width', o.width)
        const height = int('height', o.height)
        const batch = int('batch', o.batch)
        const strength = int('strength', o.strength)
        const rescale = int('rescale', o.rescale)
        const negative = o.negative ?? (common.negativePrompt as string | undefined)
        const result = await sd.generate({
          ...common,
          prompt,
          ...(negative !== undefined ? { negativePrompt: negative } : {}),
          ...(width !== undefined ? { width } : {}),
          ...(height !== undefined ? { height } : {}),
          ...(batch !== undefined ? { batch } : {}),
          ...(o.init ? { init: { image: o.init, ...(strength !== undefined ? { strength } : {}) } } : {}),
          ...(o.mask ? { mask: o.mask } : {}),
          ...(rescale !== undefined ? { guidanceRescale: rescale } : {}),
          ...(o.generator ? { generator: o.generator as GeneratorKind } : {}),
          onProgress: progress.onProgress,
          ...(signal ? { signal } : {}),
        })
        progress.stop()
        const files = await result.save(o.output)
        report(o.json, files, result.record, { width: result.width, height: result.height, seeds: result.seeds, warnings: result.warnings })
      } finally {
        await sd.dispose()
      }
    }),
  )
}
