// The bridge in a real browser: the renderer's API module, bundled for the browser, loaded from the
// bridge's own HTTP server under its CSP, calling services and receiving events over the WebSocket.
// Skipped when no Chromium is installed (set CHROMIUM_PATH to point at one).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type BridgeHandle } from '../../../src/main/bridge/server';
import { FakeEvents, fakeServices, runEvent } from './fakes';

const root = resolve(import.meta.dirname, '../../..');
const chromiumPath = [process.env['CHROMIUM_PATH'], '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find(
  (p): p is string => !!p && existsSync(p),
);

describe.skipIf(!chromiumPath)('browser bridge in Chromium', () => {
  let dir: string;
  let site: string;
  let handle: BridgeHandle;
  const events = new FakeEvents();
  let browser: import('playwright-core').Browser;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bridge-browser-'));
    site = join(dir, 'site');
    mkdirSync(join(site, 'assets'), { recursive: true });
    // A page like the renderer's: same index.html CSP, one module script using getApi().
    const entry = join(dir, 'entry.ts');
    writeFileSync(
      entry,
      `import { getApi } from ${JSON.stringify(join(root, 'src/renderer/src/api/index.ts'))};
       const out = document.getElementById('out')!;
       const log = (line: string) => { out.textContent += line + '\\n'; };
       try {
         const api = getApi();
         api.onEvent((e) => log('event ' + e.kind));
         api.getVersion().then((v) => log('version ' + v));
         api.getRun('nope').catch((e: Error) => log('error ' + e.message));
       } catch (e) {
         log('no api ' + (e as Error).message);
       }`,
    );
    const { build } = await import('vite');
    await build({
      configFile: false,
      logLevel: 'silent',
      root: dir,
      build: { outDir: join(site, 'assets'), emptyOutDir: false, lib: { entry, formats: ['es'], fileName: () => 'app.js' }, minify: false },
    });
    const html = readFileSync(join(root, 'src/renderer/index.html'), 'utf8')
      .replace(/<script[^>]*src="\.\/src\/main\.ts"[^>]*><\/script>/, '<pre id="out"></pre><script type="module" src="./assets/app.js"></script>');
    expect(html).toContain('./assets/app.js');
    writeFileSync(join(site, 'index.html'), html);

    handle = await startBridge({
      staticDir: site,
      events,
      services: fakeServices({
        getRun: async () => {
          throw new Error('No run named "nope"');
        },
      }),
    });
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
  });

  afterAll(async () => {
    await browser?.close();
    await handle?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('loads under the CSP, calls services and receives events', async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(handle.pageUrl);
    const out = page.locator('#out');
    await expect.poll(() => out.textContent(), { timeout: 15_000 }).toContain('version 0.1.0');
    await expect.poll(() => out.textContent()).toContain('error No run named "nope"');
    events.emit(runEvent);
    await expect.poll(() => out.textContent()).toContain('event run');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('shows why there is no API without the bridge address', async () => {
    const page = await browser.newPage();
    await page.goto(handle.url);
    await expect.poll(() => page.locator('#out').textContent(), { timeout: 15_000 }).toContain('no api Distill Studio cannot reach its engine');
    await page.close();
  });

  it('cannot be used from a page of another origin', async () => {
    const page = await browser.newPage();
    // A data: page has an opaque origin ("null"); the handshake is refused.
    await page.goto('data:text/html,<p>other</p>');
    const outcome = await page.evaluate(
      ({ wsUrl, token }) =>
        new Promise<string>((done) => {
          const ws = new WebSocket(`${wsUrl}?token=${token}`);
          ws.onopen = () => done('open');
          ws.onclose = (e) => done(`closed ${e.code}`);
        }),
      { wsUrl: handle.wsUrl, token: handle.token },
    );
    expect(outcome).toBe('closed 1006');
    await page.close();
  });
});
