#!/usr/bin/env node
// The `parley` command. Parley ships as TypeScript and runs through tsx's loader,
// so a fresh clone needs no build step.
import { register } from 'tsx/esm/api'

register()
await import('../src/cli.ts')
