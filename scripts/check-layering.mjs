#!/usr/bin/env node
// Layering check (`npm run layering`): every import under src/ must respect the process boundaries.
//
//   engine   -> no 'electron'; nothing from src/main, src/preload, src/renderer
//   shared   -> no Node builtins, no 'electron', no onnxruntime-node; nothing outside src/shared
//   renderer -> no Node builtins, no 'electron', no onnxruntime-node; nothing from src/engine, src/main, src/preload
//   preload  -> only 'electron' and src/shared (plus its own files)
//   main     -> anything except src/renderer; 'electron' (and electron-store, which loads it) only in
//               src/main/index.ts, src/main/electron/ and src/main/worker.ts: src/main/services,
//               src/main/jobs, src/main/bridge and the rest stay plain Node (tests, the browser bridge)
//
// Specifiers are found with regexes over the source with comments blanked out, which is robust
// enough for this codebase: static `import ... from '...'`, side-effect `import '...'`,
// `export ... from '...'`, dynamic `import('...')` and `require('...')`.

import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const LAYERS = /** @type {const} */ (['engine', 'shared', 'main', 'preload', 'renderer']);

const SOURCE_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.tsx', '.js', '.mjs', '.cjs', '.jsx', '.svelte']);
const SKIP_DIRS = new Set(['node_modules', 'out', 'dist', '.git']);
const BUILTINS = new Set(builtinModules);

/** Blank out comments (keeping newlines so line numbers stay right); strings, templates and regexes are kept. */
export function maskComments(source, { html = false } = {}) {
  const out = source.split('');
  const blank = (from, to) => {
    for (let k = from; k < to; k++) if (out[k] !== '\n' && out[k] !== '\r') out[k] = ' ';
  };
  const n = source.length;
  let i = 0;
  let prevSignificant = ''; // last non-space char outside comments, to tell a regex literal from a division
  while (i < n) {
    const c = source[i];
    const next = source[i + 1];
    if (html && source.startsWith('<!--', i)) {
      const end = source.indexOf('-->', i + 4);
      const stop = end === -1 ? n : end + 3;
      blank(i, stop);
      i = stop;
      continue;
    }
    if (c === '/' && next === '/') {
      let end = source.indexOf('\n', i);
      if (end === -1) end = n;
      blank(i, end);
      i = end;
      continue;
    }
    if (c === '/' && next === '*') {
      const end = source.indexOf('*/', i + 2);
      const stop = end === -1 ? n : end + 2;
      blank(i, stop);
      i = stop;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      i = skipString(source, i, c);
      prevSignificant = c;
      continue;
    }
    if (c === '/' && (prevSignificant === '' || '(,=:[!&|?{};+-*%<>~^'.includes(prevSignificant))) {
      i = skipRegex(source, i);
      prevSignificant = '/';
      continue;
    }
    if (!/\s/.test(c)) prevSignificant = c;
    i++;
  }
  return out.join('');
}

function skipString(source, start, quote) {
  let i = start + 1;
  while (i < source.length) {
    const c = source[i];
    if (c === '\\') {
      i += 2;
      continue;
    }
    if (c === quote) return i + 1;
    if (c === '\n' && quote !== '`') return i; // unterminated: stop at end of line
    i++;
  }
  return i;
}

function skipRegex(source, start) {
  let i = start + 1;
  let inClass = false;
  while (i < source.length) {
    const c = source[i];
    if (c === '\\') {
      i += 2;
      continue;
    }
    if (c === '\n') return i; // not a regex after all; give up at end of line
    if (inClass) {
      if (c === ']') inClass = false;
    } else if (c === '[') inClass = true;
    else if (c === '/') return i + 1;
    i++;
  }
  return i;
}

const IMPORT_PATTERNS = [
  // import x from '...'; import { a, b } from '...'; import type T from '...'; export * from '...'; export { a } from '...'
  /(?<![\w$.])(?:import|export)\s[^'"`;]*?\bfrom\s*(['"])([^'"\n]+)\1/g,
  // import '...';
  /(?<![\w$.])import\s*(['"])([^'"\n]+)\1/g,
  // import('...')
  /(?<![\w$.])import\s*\(\s*(['"`])([^'"`\n]+)\1\s*[,)]/g,
  // require('...')
  /(?<![\w$.])require\s*\(\s*(['"`])([^'"`\n]+)\1\s*\)/g,
];

/** All module specifiers in `source`, each with the 1-based line of the specifier literal. */
export function extractImports(source, { html = false } = {}) {
  const masked = maskComments(source, { html });
  const found = new Map(); // specifier offset -> { spec, line }
  for (const pattern of IMPORT_PATTERNS) {
    pattern.lastIndex = 0;
    for (const m of masked.matchAll(pattern)) {
      const spec = m[2];
      if (spec.includes('${')) continue; // template with interpolation: not a static specifier
      const offset = m.index + m[0].lastIndexOf(m[1] + spec + m[1]);
      if (found.has(offset)) continue;
      found.set(offset, { spec, line: lineAt(masked, offset) });
    }
  }
  return [...found.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
}

function lineAt(text, offset) {
  let line = 1;
  for (let k = 0; k < offset; k++) if (text.charCodeAt(k) === 10) line++;
  return line;
}

export function isNodeBuiltin(spec) {
  return spec.startsWith('node:') || BUILTINS.has(spec) || BUILTINS.has(spec.split('/')[0]);
}

const isElectron = (spec) => spec === 'electron' || spec.startsWith('electron/');
/** 'electron' itself, or a package that loads it (electron-store). */
const isElectronBound = (spec) => isElectron(spec) || spec === 'electron-store' || spec.startsWith('electron-store/');
const isOnnxRuntime = (spec) => spec === 'onnxruntime-node' || spec.startsWith('onnxruntime-node/');
const isPath = (spec) => spec.startsWith('.') || isAbsolute(spec);

/** Which layer a path belongs to: one of LAYERS, 'src' (directly in src/ or another folder), or 'outside'. */
export function layerOf(srcDir, absPath) {
  const rel = relative(srcDir, absPath);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return 'outside';
  const top = rel.split(sep)[0];
  return LAYERS.includes(top) ? top : 'src';
}

const WHY = {
  engineElectron: 'the engine must run in plain Node (CLI, tests, worker) without Electron',
  engineApp: 'the engine is the bottom layer; the app depends on it, never the reverse',
  sharedNode: 'src/shared is also bundled into the sandboxed renderer, which has no Node',
  sharedElectron: 'src/shared must run in every process, including the renderer',
  sharedOutside: 'src/shared must be self-contained so every layer can use it',
  rendererNode: 'the renderer is a sandboxed web page; it reaches Node only through window.api',
  rendererLayer: 'the renderer talks to the app only through window.api (src/shared/api.ts)',
  preload: "a sandboxed preload script may only use 'electron' and src/shared",
  mainRenderer: 'main loads the renderer as a web page; it must not import renderer code',
  mainElectron:
    'only src/main/index.ts, src/main/electron/ and src/main/worker.ts may use Electron; the rest of src/main (services, jobs, bridge) must run in plain Node for tests and the browser bridge',
  unknown: `every source file must live in one of src/{${LAYERS.join(',')}}`,
};

/** Whether a file of src/main (`file`: its path relative to src/, forward slashes) may import Electron. */
export function mainMayUseElectron(file) {
  const noExt = file.replace(/\.[cm]?[jt]sx?$/, '');
  return noExt === 'main/index' || noExt === 'main/worker' || file.startsWith('main/electron/');
}

/**
 * The rule a file in `layer` breaks by importing `spec` (which resolves to layer `target` when it is a path),
 * or null when the import is allowed. `file` (relative to src/, forward slashes) decides where in
 * src/main Electron may be used; without it a main file is assumed to be one that may.
 */
export function ruleFor(layer, spec, target, file) {
  switch (layer) {
    case 'engine':
      if (isElectronBound(spec)) return WHY.engineElectron;
      if (target === 'main' || target === 'preload' || target === 'renderer') return WHY.engineApp;
      return null;
    case 'shared':
      if (isElectronBound(spec)) return WHY.sharedElectron;
      if (isNodeBuiltin(spec) || isOnnxRuntime(spec)) return WHY.sharedNode;
      if (target !== null && target !== 'shared') return WHY.sharedOutside;
      return null;
    case 'renderer':
      if (isElectronBound(spec) || isNodeBuiltin(spec) || isOnnxRuntime(spec)) return WHY.rendererNode;
      if (target !== null && target !== 'renderer' && target !== 'shared') return WHY.rendererLayer;
      return null;
    case 'preload':
      if (target === null) return isElectron(spec) ? null : WHY.preload;
      return target === 'preload' || target === 'shared' ? null : WHY.preload;
    case 'main':
      if (target === 'renderer') return WHY.mainRenderer;
      if (isElectronBound(spec) && file !== undefined && !mainMayUseElectron(file)) return WHY.mainElectron;
      return null;
    default:
      return WHY.unknown;
  }
}

function* walk(dir) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name)) yield* walk(full);
    } else if (entry.isFile() && SOURCE_EXTENSIONS.has(extname(entry.name))) {
      yield full;
    }
  }
}

/**
 * Check every source file under `<root>/src`.
 * @returns {{ files: number, violations: Array<{ file: string, line: number, layer: string, spec: string, why: string }> }}
 *   `file` is relative to `root`, with forward slashes.
 */
export function checkLayering(root) {
  const srcDir = resolve(root, 'src');
  const violations = [];
  let files = 0;
  for (const file of walk(srcDir)) {
    files++;
    const layer = layerOf(srcDir, file);
    const source = readFileSync(file, 'utf8');
    const relFile = relative(root, file).split(sep).join('/');
    if (!LAYERS.includes(layer)) {
      violations.push({ file: relFile, line: 1, layer, spec: '', why: WHY.unknown });
      continue;
    }
    for (const { spec, line } of extractImports(source, { html: file.endsWith('.svelte') })) {
      const target = isPath(spec) ? layerOf(srcDir, resolve(dirname(file), spec)) : null;
      const why = ruleFor(layer, spec, target, relative(srcDir, file).split(sep).join('/'));
      if (why) violations.push({ file: relFile, line, layer, spec, why });
    }
  }
  return { files, violations };
}

export function formatViolation(v) {
  if (v.spec === '') return `${v.file}:${v.line}: file is outside the known layers (${v.why})`;
  return `${v.file}:${v.line}: ${v.layer} must not import '${v.spec}' (${v.why})`;
}

/** CLI: `node scripts/check-layering.mjs [root]`; returns the exit code. */
export function main(argv = process.argv.slice(2)) {
  const root = argv[0] ? resolve(argv[0]) : resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const { files, violations } = checkLayering(root);
  if (violations.length > 0) {
    for (const v of violations) console.error(formatViolation(v));
    console.error(`layering: ${violations.length} violation(s) in ${files} file(s) under src/`);
    return 1;
  }
  console.log(`layering OK: ${files} file(s) under src/ respect engine/shared/main/preload/renderer boundaries`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = main();
}
