import { createHash } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { brotliCompress, constants as zlib, gzip } from 'node:zlib'
import { build } from 'esbuild'

// @NOTE The widget ships as TypeScript source and is bundled in memory on first use, so
// `npm install && npm start` serves it with no build step. esbuild (a dependency of tsx anyway)
// takes well under a second; the result is compressed once and kept for the life of the process.

export const WIDGET_ENTRY = fileURLToPath(new URL('../../web/widget/main.tsx', import.meta.url))

export interface WidgetBundle {
  /** The minified script, exactly as served without compression. */
  identity: Buffer
  gzip: Buffer
  br: Buffer
  /** Content hash of `identity`; each encoding's ETag is derived from it. */
  hash: string
}

/**
 * One IIFE for browsers from 2020 on (ES2020: Chrome 80, Firefox 74, Safari 13.1), Preact
 * included; web/ imports only types from the server, so TypeBox never lands in it.
 */
export async function bundleWidgetScript(): Promise<Buffer> {
  const result = await build({
    entryPoints: [WIDGET_ENTRY],
    bundle: true,
    minify: true,
    format: 'iife',
    target: 'es2020',
    platform: 'browser',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    charset: 'utf8',
    legalComments: 'none',
    write: false,
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
    // Plain assignments for class fields: the same behaviour here, and smaller than defineProperty calls.
    tsconfigRaw: { compilerOptions: { useDefineForClassFields: false } },
  })
  return Buffer.from(result.outputFiles[0].contents)
}

async function compile(): Promise<WidgetBundle> {
  const identity = await bundleWidgetScript()
  const [gzipped, brotli] = await Promise.all([
    promisify(gzip)(identity, { level: 9 }),
    promisify(brotliCompress)(identity, {
      params: {
        [zlib.BROTLI_PARAM_MODE]: zlib.BROTLI_MODE_TEXT,
        [zlib.BROTLI_PARAM_QUALITY]: zlib.BROTLI_MAX_QUALITY,
        [zlib.BROTLI_PARAM_SIZE_HINT]: identity.length,
      },
    }),
  ])
  const hash = createHash('sha256').update(identity).digest('base64url').slice(0, 22)
  return { identity, gzip: gzipped, br: brotli, hash }
}

let bundle: Promise<WidgetBundle> | undefined

/** The widget bundle, built once per process (a failed build is retried on the next call). */
export function widgetBundle(): Promise<WidgetBundle> {
  bundle ??= compile().catch((err: unknown) => {
    bundle = undefined
    throw err
  })
  return bundle
}
