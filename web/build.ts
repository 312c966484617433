// `npm run build:widget`: writes the widget bundle Parley serves to dist/, for inspection. Parley
// itself never needs this file: it bundles web/widget in memory when it starts.
import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { widgetBundle } from '../src/http/widget-bundle.js'

const out = fileURLToPath(new URL('../dist/brevo-conversations.js', import.meta.url))
const bundle = await widgetBundle()
mkdirSync(new URL('../dist/', import.meta.url), { recursive: true })
writeFileSync(out, bundle.identity)
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`
console.log(`${out}: ${kb(bundle.identity.length)} (gzip ${kb(bundle.gzip.length)}, brotli ${kb(bundle.br.length)})`)
