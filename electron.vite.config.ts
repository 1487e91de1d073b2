// electron-vite build for the three Electron targets: main (+ job worker), preload, renderer.
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'electron-vite';
import { resolve } from 'node:path';
import type { Plugin } from 'vite';

const root = import.meta.dirname;

// Native addon with platform binaries: load it from node_modules at run time, never bundle it.
const nativeExternals = ['onnxruntime-node', /^onnxruntime-node\//];

/**
 * The dev server injects component CSS as <style> tags, which index.html's CSP blocks.
 * Allow inline styles while serving only; built pages keep the strict policy.
 */
function relaxCspForDevServer(): Plugin {
  return {
    name: 'distill:relax-csp-for-dev-server',
    apply: 'serve',
    transformIndexHtml: (html) => html.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'"),
  };
}

export default defineConfig({
  main: {
    build: {
      externalizeDeps: { include: ['onnxruntime-node'] },
      rolldownOptions: {
        input: {
          index: resolve(root, 'src/main/index.ts'),
          // Job worker: its own entry so it can run in a separate process.
          worker: resolve(root, 'src/main/worker.ts'),
        },
        external: nativeExternals,
      },
    },
  },
  preload: {
    build: {
      externalizeDeps: { include: ['onnxruntime-node'] },
      rolldownOptions: {
        input: { index: resolve(root, 'src/preload/index.ts') },
        // Sandboxed preload scripts must be CommonJS.
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(root, 'src/renderer'),
    build: {
      rolldownOptions: {
        input: { index: resolve(root, 'src/renderer/index.html') },
      },
    },
    plugins: [svelte({ configFile: false }), relaxCspForDevServer()],
  },
});
