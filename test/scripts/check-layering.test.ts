import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkLayering, extractImports, formatViolation } from '../../scripts/check-layering.mjs';

const repoRoot = resolve(import.meta.dirname, '../..');
const script = join(repoRoot, 'scripts/check-layering.mjs');
const tempRoots: string[] = [];

function fixture(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'layering-'));
  tempRoots.push(root);
  for (const [path, text] of Object.entries(files)) {
    const full = join(root, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, text);
  }
  return root;
}

function runCli(root: string) {
  return spawnSync(process.execPath, [script, root], { encoding: 'utf8' });
}

afterAll(() => {
  for (const root of tempRoots) rmSync(root, { recursive: true, force: true });
});

describe('extractImports', () => {
  it('finds static, side-effect, re-export, dynamic and require specifiers with their lines', () => {
    const source = [
      "import a from 'a';",
      'import {',
      '  b,',
      '  c,',
      "} from './b';",
      "import type { T } from '../t';",
      "import 'side-effect';",
      "export * from './star';",
      "export { x } from \"./named\";",
      "const lazy = await import('./lazy');",
      "const fs = require('node:fs');",
      'const s = `${a}`;',
      "const notImport = obj.import('nope');",
    ].join('\n');
    expect(extractImports(source)).toEqual([
      { spec: 'a', line: 1 },
      { spec: './b', line: 5 },
      { spec: '../t', line: 6 },
      { spec: 'side-effect', line: 7 },
      { spec: './star', line: 8 },
      { spec: './named', line: 9 },
      { spec: './lazy', line: 10 },
      { spec: 'node:fs', line: 11 },
    ]);
  });

  it('ignores imports inside comments but keeps strings that merely contain //', () => {
    const source = [
      "// import x from 'electron';",
      "/* require('fs');",
      "   import('./gone') */",
      "const url = 'https://example.com/'; import y from './y';",
    ].join('\n');
    expect(extractImports(source)).toEqual([{ spec: './y', line: 4 }]);
  });

  it('ignores HTML comments in Svelte markup', () => {
    const source = "<script>\n  import A from './A.svelte';\n</script>\n<!-- import B from 'electron' -->\n<A />\n";
    expect(extractImports(source, { html: true })).toEqual([{ spec: './A.svelte', line: 2 }]);
  });
});

describe('checkLayering', () => {
  it('reports every deliberate violation in a fixture tree, with file, line and reason', () => {
    const root = fixture({
      'src/engine/ok.ts': "import * as ort from 'onnxruntime-node';\nimport { readFileSync } from 'node:fs';\nimport { IPC } from '../shared/api';\n",
      'src/engine/bad.ts': "import { app } from 'electron';\nimport { x } from '../main/x';\nexport { y } from '../renderer/src/y';\n",
      'src/shared/api.ts': "export const IPC = {};\n",
      'src/shared/bad.ts': "import { join } from 'node:path';\nimport fs from 'fs';\nimport { ipcRenderer } from 'electron';\nimport { Graph } from '../engine/onnx/graph';\nimport ort from 'onnxruntime-node';\n",
      'src/renderer/src/ok.ts': "import { mount } from 'svelte';\nimport { IPC } from '../../shared/api';\nimport App from './App.svelte';\n",
      'src/renderer/src/bad.ts':
        "import ort from 'onnxruntime-node';\nconst g = await import('../../engine/onnx/graph');\nimport { shell } from 'electron';\nimport { readFile } from 'fs/promises';\nimport '../../preload/index';\nimport { m } from '../../main/index';\n",
      'src/renderer/src/App.svelte': "<script lang=\"ts\">\n  // import { ipcRenderer } from 'electron';\n  import { ipcRenderer } from 'electron';\n</script>\n<p>Don't panic</p>\n",
      'src/preload/index.ts': "import { contextBridge } from 'electron';\nimport { IPC } from '../shared/api';\nconst path = require('node:path');\nimport { Graph } from '../engine/onnx/graph';\nimport lodash from 'lodash';\n",
      'src/main/index.ts': "import { app } from 'electron';\nimport ort from 'onnxruntime-node';\nimport '../engine/ok';\nimport '../preload/index';\nimport App from '../renderer/src/App.svelte';\n",
      'src/stray.ts': 'export const stray = 1;\n',
    });
    const { files, violations } = checkLayering(root);
    expect(files).toBe(10);
    const found = violations.map((v) => `${v.file}:${v.line} ${v.layer} '${v.spec}'`);
    expect(found).toEqual([
      "src/engine/bad.ts:1 engine 'electron'",
      "src/engine/bad.ts:2 engine '../main/x'",
      "src/engine/bad.ts:3 engine '../renderer/src/y'",
      "src/main/index.ts:5 main '../renderer/src/App.svelte'",
      "src/preload/index.ts:3 preload 'node:path'",
      "src/preload/index.ts:4 preload '../engine/onnx/graph'",
      "src/preload/index.ts:5 preload 'lodash'",
      "src/renderer/src/App.svelte:3 renderer 'electron'",
      "src/renderer/src/bad.ts:1 renderer 'onnxruntime-node'",
      "src/renderer/src/bad.ts:2 renderer '../../engine/onnx/graph'",
      "src/renderer/src/bad.ts:3 renderer 'electron'",
      "src/renderer/src/bad.ts:4 renderer 'fs/promises'",
      "src/renderer/src/bad.ts:5 renderer '../../preload/index'",
      "src/renderer/src/bad.ts:6 renderer '../../main/index'",
      "src/shared/bad.ts:1 shared 'node:path'",
      "src/shared/bad.ts:2 shared 'fs'",
      "src/shared/bad.ts:3 shared 'electron'",
      "src/shared/bad.ts:4 shared '../engine/onnx/graph'",
      "src/shared/bad.ts:5 shared 'onnxruntime-node'",
      "src/stray.ts:1 src ''",
    ]);
    expect(formatViolation(violations[0])).toBe(
      "src/engine/bad.ts:1: engine must not import 'electron' (the engine must run in plain Node (CLI, tests, worker) without Electron)",
    );
    for (const v of violations) expect(v.why).not.toBe('');
  });

  it('passes a clean fixture tree', () => {
    const root = fixture({
      'src/engine/a.ts': "import { readFileSync } from 'node:fs';\nimport ort from 'onnxruntime-node';\n",
      'src/shared/api.ts': "import { z } from './z';\n",
      'src/shared/z.ts': 'export const z = 1;\n',
      'src/preload/index.ts': "import { contextBridge } from 'electron';\nimport { z } from '../shared/z';\n",
      'src/main/index.ts': "import { app } from 'electron';\nimport '../engine/a';\nimport '../shared/api';\n",
      'src/renderer/src/main.ts': "import { mount } from 'svelte';\nimport '../../shared/api';\nimport './app.css';\n",
    });
    expect(checkLayering(root)).toEqual({ files: 6, violations: [] });
  });

  it('lets only src/main/index.ts, src/main/electron/ and src/main/worker.ts import Electron', () => {
    const root = fixture({
      'src/main/index.ts': "import { app } from 'electron';\nimport Store from 'electron-store';\nimport './services/a';\n",
      'src/main/worker.ts': "import { parentPort } from 'electron/utility';\n",
      'src/main/electron/ipc.ts': "import { ipcMain } from 'electron';\nimport '../services/a';\n",
      'src/main/electron/window.ts': "import { BrowserWindow } from 'electron/main';\n",
      'src/main/services/a.ts': "import { z } from 'zod';\nimport { readFileSync } from 'node:fs';\nimport Conf from 'conf';\n",
      'src/main/services/bad.ts': "// import { app } from 'electron';\nimport type { BrowserWindow } from 'electron';\n",
      'src/main/services/store.ts': "import Store from 'electron-store';\n",
      'src/main/jobs/bad.ts': "const { utilityProcess } = require('electron');\n",
      'src/main/bridge/bad.ts': "const e = await import('electron/main');\n",
      'src/main/other.ts': "import { shell } from 'electron';\n",
      'src/engine/store.ts': "import Store from 'electron-store';\n",
    });
    const { violations } = checkLayering(root);
    expect(violations.map((v) => `${v.file}:${v.line} '${v.spec}'`)).toEqual([
      "src/engine/store.ts:1 'electron-store'",
      "src/main/bridge/bad.ts:1 'electron/main'",
      "src/main/jobs/bad.ts:1 'electron'",
      "src/main/other.ts:1 'electron'",
      "src/main/services/bad.ts:2 'electron'",
      "src/main/services/store.ts:1 'electron-store'",
    ]);
    expect(formatViolation(violations.find((v) => v.file === 'src/main/jobs/bad.ts')!)).toBe(
      "src/main/jobs/bad.ts:1: main must not import 'electron' (only src/main/index.ts, src/main/electron/ and src/main/worker.ts may use Electron; the rest of src/main (services, jobs, bridge) must run in plain Node for tests and the browser bridge)",
    );
  });

  it('passes on the real src/', () => {
    const { files, violations } = checkLayering(repoRoot);
    expect(violations.map(formatViolation)).toEqual([]);
    expect(files).toBeGreaterThan(0);
  });
});

describe('check-layering CLI', () => {
  it('exits 1 and prints file:line violations for a bad tree', () => {
    const root = fixture({ 'src/shared/bad.ts': "\nimport { join } from 'node:path';\n" });
    const result = runCli(root);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      "src/shared/bad.ts:2: shared must not import 'node:path' (src/shared is also bundled into the sandboxed renderer, which has no Node)",
    );
  });

  it('exits 0 with a one-line OK summary on the real repository', () => {
    const result = runCli(repoRoot);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout.trim().split('\n')).toHaveLength(1);
    expect(result.stdout).toMatch(/^layering OK: \d+ file\(s\)/);
  });
});
