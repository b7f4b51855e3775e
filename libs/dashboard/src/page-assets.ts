// The page and what it loads, read once at start: our HTML, script and style (plain files, no
// build step) and uPlot's from node_modules. Served from memory by name: no file path ever
// comes from a request, and the page works offline.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface PageAsset {
  readonly contentType: string;
  readonly body: Buffer;
}

const require = createRequire(import.meta.url);
const own = (name: string): string => fileURLToPath(new URL(`./page/${name}`, import.meta.url));

const SOURCES: Readonly<Record<string, readonly [file: string, contentType: string]>> = {
  'dashboard.js': [own('dashboard.js'), 'text/javascript; charset=utf-8'],
  'dashboard.css': [own('dashboard.css'), 'text/css; charset=utf-8'],
  'uPlot.iife.min.js': [require.resolve('uplot/dist/uPlot.iife.min.js'), 'text/javascript; charset=utf-8'],
  'uPlot.min.css': [require.resolve('uplot/dist/uPlot.min.css'), 'text/css; charset=utf-8'],
};

export interface PageAssets {
  readonly page: PageAsset;
  /** By name, under /static/. */
  readonly static: ReadonlyMap<string, PageAsset>;
}

export function loadPageAssets(): PageAssets {
  return {
    page: { contentType: 'text/html; charset=utf-8', body: readFileSync(own('index.html')) },
    static: new Map(Object.entries(SOURCES).map(([name, [file, contentType]]) => [name, { contentType, body: readFileSync(file) }])),
  };
}
