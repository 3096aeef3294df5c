#!/usr/bin/env node
import { Command } from 'commander'
import { packageVersion } from '../src/runtime/package-root.js'
import { register as registerGallery } from './commands/gallery.js'
import { register as registerImage } from './commands/image.js'
import { register as registerInfo } from './commands/info.js'
import { register as registerMusic } from './commands/music.js'
import { register as registerPoints } from './commands/points.js'
import { register as registerSpeak } from './commands/speak.js'

const program = new Command()
program
  .name('diffusekit')
  .description('Generate speech, music, 3D point clouds and images with diffusion models — offline, with the bundled models.')
  .version(packageVersion())
  .showHelpAfterError()
  .exitOverride((err) => {
    // commander's own usage errors exit with 2, help and version with 0
    process.exit(err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2)
  })

registerGallery(program)
registerSpeak(program)
registerMusic(program)
registerPoints(program)
registerImage(program)
registerInfo(program)

await program.parseAsync(process.argv)
