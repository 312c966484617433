#!/usr/bin/env node
// The `parley` command. Parley ships as TypeScript and runs through tsx's loader,
// so a fresh clone needs no build step.
import { register } from 'tsx/esm/api'

register()
// First, so that its V8 settings hold before Parley allocates anything.
await import('../src/v8-flags.ts')
await import('../src/cli.ts')
