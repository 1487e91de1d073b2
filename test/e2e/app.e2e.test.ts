// End to end: the built renderer (out/renderer) in Chromium, talking through the browser bridge to
// the real backend (src/main/bridge/dev-server.ts: settings, AppServices, the validated IPC
// handlers with their path grants, and the JobManager running real worker processes) on a tiny
// project generated here. The file dialogs are answered by the dev server's `pick` hook, from a
// queue this file fills just before each click on a "Choose…" button.
//
//   1. wizard → training to the end → comparison equal to summary.json → predict box → ONNX export
//      that loads in a fresh onnxruntime-node session;
//   2. a bad data file shows its inline error with the line number;
//   3. a cancelled run is resumed and completes.
//
// Screenshots of every screen go to test-artifacts/e2e/. Skipped (with the reason) when Chromium
// is absent or the renderer cannot be built.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevServer, type DevServer } from '../../src/main/bridge/dev-server';
import { loadTokenizer } from '../../src/engine/data/tokenizer';
import { formatBytes, formatCompact, formatCount, formatPercent } from '../../src/renderer/src/lib/format';
import type { AppEvent, PickKind, RunStatus } from '../../src/shared/api';
import { artifactsDir, BUILT_RENDERER, chromiumMissingReason, ensureRendererBuilt, launchChromium } from '../support/e2e';
import { makeTinyProject, type TinyProject } from '../support/tiny-project';

// Decided while collecting, so the skip shows its reason; the build only runs when Chromium is there.
const skipReason = chromiumMissingReason() ?? ensureRendererBuilt();
if (skipReason) console.warn(`[e2e] skipped: ${skipReason}`);

const VIEWPORT = { width: 1280, height: 800 };
const SMALL_VIEWPORT = { width: 1024, height: 700 };
/** Most UI waits; training and measuring get their own, longer limits. */
const UI_TIMEOUT = 30_000;

interface Summary {
  status: string;
  steps: number;
  best: { accuracy: number; teacherAccuracy: number; agreement: number; sentences: number; step: number };
  teacher: { parameters: number; size_bytes: number };
  student: { parameters: number; size_bytes: number };
}

describe.skipIf(!!skipReason)(skipReason ? `end to end in Chromium (skipped: ${skipReason})` : 'end to end in Chromium', () => {
  let root: string;
  let shots: string;
  let p: TinyProject;
  let server: DevServer;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const appEvents: AppEvent[] = [];
  const serviceErrors: string[] = [];
  const pageProblems: string[] = [];

  // --- the file dialogs -----------------------------------------------------------------------
  const pickQueue: { kind: PickKind; answer: string | null }[] = [];
  const pickProblems: string[] = [];
  /** The next "Choose…" dialog of `kind` answers `answer`. */
  const willPick = (kind: PickKind, answer: string | null) => pickQueue.push({ kind, answer });
  function pick(kind: PickKind): string | null {
    const next = pickQueue.shift();
    if (!next || next.kind !== kind) {
      const problem = `the page opened a ${kind} dialog; the test expected ${next ? `a ${next.kind} dialog` : 'none'}`;
      pickProblems.push(problem);
      throw new Error(problem);
    }
    return next.answer;
  }

  const hubOffline = process.env['HF_HUB_OFFLINE'];

  beforeAll(async () => {
    // The Models step checks the default Hub models on entry (from what the app knows of them):
    // whatever happens there, no Hub request may leave this machine.
    process.env['HF_HUB_OFFLINE'] = '1';
    root = mkdtempSync(path.join(tmpdir(), 'ds-e2e-'));
    shots = artifactsDir('e2e');
    p = await makeTinyProject(path.join(root, 'project'));
    server = await startDevServer({
      dataDir: path.join(root, 'app-data'),
      cacheDir: path.join(root, 'cache'),
      staticDir: BUILT_RENDERER,
      // The CPU whatever this machine has, so the run is the same everywhere.
      settings: { provider: 'cpu', theme: 'light' },
      compare: { latencySamples: 20 },
      pick,
      onServiceError: (method, e) => serviceErrors.push(`${method}: ${e instanceof Error ? e.message : String(e)}`),
    });
    server.services.onEvent((e) => appEvents.push(e));
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await server?.close();
    if (root) rmSync(root, { recursive: true, force: true });
    if (hubOffline === undefined) delete process.env['HF_HUB_OFFLINE'];
    else process.env['HF_HUB_OFFLINE'] = hubOffline;
  }, 60_000);

  async function openApp(viewport = VIEWPORT): Promise<Page> {
    const context = await browser.newContext({ viewport, colorScheme: 'light', deviceScaleFactor: 1 });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(UI_TIMEOUT);
    page.on('pageerror', (e) => pageProblems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') pageProblems.push(`console error: ${m.text()}`);
    });
    await page.goto(server.pageUrl);
    await page.getByTestId('app-version').waitFor();
    return page;
  }

  async function shot(page: Page, name: string): Promise<void> {
    await page.mouse.move(0, 0); // no hover highlight on the last button clicked
    await page.screenshot({ path: path.join(shots, `${name}.png`) });
  }
  /** What the page showed when a test failed (best effort: the page may be gone). */
  const failureShot = (page: Page | undefined, name: string) => page?.screenshot({ path: path.join(shots, `${name}.png`) }).then(() => undefined, () => undefined);
  const status = (page: Page, s: RunStatus) => page.locator(`[data-testid="run-status"][data-status="${s}"]`);
  const text = async (page: Page, testid: string) => ((await page.getByTestId(testid).textContent()) ?? '').trim();
  /** Scrolls an element to the middle of its scrolling area (the main pane scrolls, not the page). */
  const centre = (page: Page, testid: string) => page.getByTestId(testid).evaluate((el) => el.scrollIntoView({ block: 'center' }));
  const stepOf = (t: string) => Number(t.split(' of ')[0]!.replace(/,/g, ''));

  /** The wizard from wherever the app is: Hardware → Models (both chosen with the dialog) → Data. */
  async function wizardToData(page: Page, o: { shots?: boolean } = {}): Promise<void> {
    if (!(await page.getByTestId('wizard-step-hardware').isVisible())) await page.getByTestId('new-run').click();
    await page.getByTestId('wizard-step-hardware').waitFor();
    await expect.poll(() => page.getByTestId('provider-decision').getAttribute('data-provider')).toBe('cpu');
    if (o.shots) await shot(page, '01-wizard-hardware');
    await page.getByTestId('wizard-next').click();

    await page.getByTestId('wizard-step-models').waitFor();
    for (const [role, dir] of [['teacher', p.teacherDir], ['student', p.studentDir]] as const) {
      willPick('model-folder', dir);
      await page.getByTestId(`${role}-browse`).click();
      // The step also checks the default Hub models on entry, and those may answer (network): wait
      // for the chosen folder's own facts, which replace them in the same update as the path.
      await expect.poll(() => page.getByTestId(`${role}-input`).inputValue()).toBe(dir);
      await page.getByTestId(`${role}-info`).waitFor();
    }
    await expect(text(page, 'teacher-labels')).resolves.toBe('NEGATIVE, POSITIVE');
    await page.getByTestId('model-checks').waitFor();
    if (o.shots) await shot(page, '02-wizard-models');
    await page.getByTestId('wizard-next').click();

    await page.getByTestId('wizard-step-data').waitFor();
    await page.getByTestId('data-file').click();
  }

  /** From the Data step: the training and validation files, a recipe, Review, Start. Returns the new run's id. */
  async function finishWizard(page: Page, recipe: Record<string, string>, o: { shots?: boolean } = {}): Promise<string> {
    willPick('data-file', p.trainFile);
    await page.getByTestId('data-browse').click();
    await page.getByTestId('data-preview').waitFor();
    await expect(text(page, 'data-rows')).resolves.toBe('480 rows');
    await page.getByTestId('valid-file').check();
    willPick('data-file', p.validFile);
    await page.getByTestId('valid-browse').click();
    await expect.poll(() => text(page, 'valid-path')).toBe(p.validFile);
    await page.getByText('96 rows, labels: 0, 1').waitFor();
    if (o.shots) {
      await page.getByTestId('data-preview').scrollIntoViewIfNeeded();
      await shot(page, '03-wizard-data');
    }
    await page.getByTestId('wizard-next').click();

    await page.getByTestId('wizard-step-recipe').waitFor();
    for (const [field, value] of Object.entries(recipe)) {
      const input = page.getByTestId(`recipe-${field}`);
      if (!(await input.isVisible())) await page.locator('[data-testid="recipe-advanced"] > summary').click();
      await input.fill(value);
    }
    if (o.shots) {
      await page.getByTestId('wizard-step-recipe').locator('h2').scrollIntoViewIfNeeded();
      await shot(page, '04-wizard-recipe');
    }
    await page.getByTestId('wizard-next').click();

    await page.getByTestId('wizard-step-review').waitFor();
    await expect(page.getByTestId('review-problems').count()).resolves.toBe(0);
    if (o.shots) await shot(page, '05-wizard-review');
    const before = new Set((await server.jobs.list()).map((r) => r.id));
    await page.getByTestId('wizard-start').click();
    await page.getByTestId('run-status').waitFor();
    expect(pickQueue).toEqual([]);
    const created = (await server.jobs.list()).filter((r) => !before.has(r.id));
    expect(created).toHaveLength(1);
    return created[0]!.id;
  }

  const readSummary = async (runId: string): Promise<Summary> => (await server.jobs.get(runId)).summary as unknown as Summary;
  const statusesOf = (runId: string) => appEvents.flatMap((e) => (e.kind === 'run' && e.run.id === runId ? [e.run.status] : []));

  describe('a run from the wizard to the export', () => {
    let page: Page;
    let runId: string;
    let summary: Summary;

    it('completes the wizard; the monitor follows the run to the end', async ({ onTestFailed }) => {
      page = await openApp();
      onTestFailed(() => failureShot(page, 'FAILED-wizard-and-monitor'));
      // A fresh app opens on the wizard.
      await page.getByTestId('wizard-step-hardware').waitFor();
      await expect(text(page, 'run-list-empty')).resolves.toMatch(/No runs yet/);
      await wizardToData(page, { shots: true });
      // Short on purpose: the student is still learning, so it and the teacher differ.
      runId = await finishWizard(page, { epochs: '2', batchSize: '16', lr: '3e-3', evalEvery: '5', maxSteps: '35', seed: '42' }, { shots: true });

      await status(page, 'completed').waitFor({ timeout: 120_000 });
      await expect(page.getByTestId('run-error').count()).resolves.toBe(0);
      summary = await readSummary(runId);
      expect(summary.status).toBe('completed');
      expect(statusesOf(runId)).toEqual(expect.arrayContaining(['queued', 'running', 'completed']));
      await expect.poll(() => text(page, 'best-accuracy')).toBe(formatPercent(summary.best.accuracy));
      await expect(text(page, 'run-step')).resolves.toBe(`${formatCount(summary.steps)} of ${formatCount(summary.steps)}`);
      await expect(text(page, 'best-step')).resolves.toContain(`step ${formatCount(summary.best.step)}`);
      for (const stage of ['download', 'tokenize', 'teacher', 'train', 'evaluate', 'export']) {
        await expect(page.getByTestId(`stage-${stage}`).getAttribute('data-status')).resolves.toBe('done');
      }
      await page.getByTestId('run-item').first().waitFor();
      await shot(page, '06-monitor-finished');
      await page.getByTestId('chart-loss').waitFor();
      await centre(page, 'chart-loss');
      await shot(page, '07-monitor-curves');
    });

    it("the comparison shows the run's summary.json numbers", async ({ onTestFailed }) => {
      onTestFailed(() => failureShot(page, 'FAILED-comparison'));
      await page.getByTestId('tab-compare').click();
      await page.getByTestId('comparison').waitFor({ timeout: 120_000 });
      const b = summary.best;
      await expect(text(page, 'cmp-student-accuracy')).resolves.toBe(formatPercent(b.accuracy));
      await expect(text(page, 'cmp-student-accuracy-tile')).resolves.toBe(formatPercent(b.accuracy));
      await expect(text(page, 'cmp-teacher-accuracy')).resolves.toBe(formatPercent(b.teacherAccuracy));
      await expect(text(page, 'cmp-agreement')).resolves.toBe(formatPercent(b.agreement));
      await expect(text(page, 'cmp-student-params')).resolves.toBe(formatCompact(summary.student.parameters));
      await expect(text(page, 'cmp-teacher-params')).resolves.toBe(formatCompact(summary.teacher.parameters));
      await expect(text(page, 'cmp-student-size')).resolves.toBe(formatBytes(summary.student.size_bytes));
      await expect(text(page, 'cmp-teacher-size')).resolves.toBe(formatBytes(summary.teacher.size_bytes));
      // The confusion matrices count every validation sentence; their diagonals are the accuracies.
      for (const [side, acc] of [['student', b.accuracy], ['teacher', b.teacherAccuracy]] as const) {
        const cells = await page.getByTestId(`confusion-${side}`).locator('tbody td').allTextContents();
        const m = cells.map((c) => Number(c.trim().replace(/,/g, '')));
        expect(m).toHaveLength(4);
        expect(m[0]! + m[1]! + m[2]! + m[3]!).toBe(b.sentences);
        expect((m[0]! + m[3]!) / b.sentences).toBeCloseTo(acc, 12);
      }
      await expect(text(page, 'disagreement-count')).resolves.toBe(formatCount(Math.round((1 - b.agreement) * b.sentences)));
      await page.getByTestId('comparison').scrollIntoViewIfNeeded();
      await shot(page, '08-compare');
    });

    it('the predict box answers with both models', async ({ onTestFailed }) => {
      onTestFailed(() => failureShot(page, 'FAILED-predict'));
      const sentence = 'a wonderful and charming film , really moving';
      await page.getByTestId('predict-input').fill(sentence);
      await page.getByTestId('predict-student').waitFor();
      await page.getByTestId('predict-teacher').waitFor();
      const expected = await server.services.predictBoth(runId, sentence);
      for (const side of ['teacher', 'student'] as const) {
        const box = page.getByTestId(`predict-${side}`);
        await expect(box.locator('.label').textContent()).resolves.toBe(expected[side].label);
        const shown = (await box.locator('.probs .num').allTextContents()).map((t) => t.trim());
        expect(shown).toEqual(expected[side].probabilities.map((q) => formatPercent(q)));
      }
      // The tiny teacher really learned the task.
      expect(expected.teacher.label).toBe('POSITIVE');
      await expect(text(page, 'predict-agree')).resolves.toBe(expected.teacher.label === expected.student.label ? 'They agree.' : 'They disagree.');
      await page.getByTestId('predict-result').scrollIntoViewIfNeeded();
      await shot(page, '09-compare-predict');
    });

    it('exports ONNX; the file loads in a fresh onnxruntime-node session and gives the student’s answer', async ({ onTestFailed }) => {
      onTestFailed(() => failureShot(page, 'FAILED-export'));
      await page.getByTestId('tab-export').click();
      await page.getByTestId('export-format-onnx').click();
      const outDir = path.join(root, 'exported');
      willPick('export-folder', outDir);
      await page.getByTestId('export-button').click();
      await page.getByTestId('export-result').waitFor({ timeout: 120_000 });
      const file = path.join(outDir, 'model.onnx');
      await expect(text(page, 'export-path')).resolves.toBe(file);
      await expect(page.getByTestId('export-result').getAttribute('data-verified')).resolves.toBe('identical');
      await expect(text(page, 'export-accuracy')).resolves.toBe(formatPercent(summary.best.accuracy));
      await shot(page, '10-export-result');

      const session = await ort.InferenceSession.create(file);
      try {
        expect(session.outputNames).toContain('logits');
        const sentence = 'a wonderful and charming film , really moving';
        const ids = (await loadTokenizer(p.studentDir)).encode(sentence, { maxLength: 64 });
        const dims = [1, ids.length];
        const feeds: Record<string, ort.Tensor> = {};
        for (const name of session.inputNames) {
          const data = BigInt64Array.from(ids, (id) => (name === 'input_ids' ? BigInt(id) : name === 'attention_mask' ? 1n : 0n));
          feeds[name] = new ort.Tensor('int64', data, dims);
        }
        const logits = (await session.run(feeds))['logits']!;
        expect(logits.dims).toEqual([1, 2]);
        const [a, b] = Array.from(logits.data as Float32Array);
        const expected = await server.services.predictBoth(runId, sentence);
        expect(b! > a! ? 'POSITIVE' : 'NEGATIVE').toBe(expected.student.label);
        const pPositive = 1 / (1 + Math.exp(a! - b!));
        expect(pPositive).toBeCloseTo(expected.student.probabilities[1]!, 4);
      } finally {
        await session.release();
      }
      expect(pickQueue).toEqual([]);
    });
  });

  it('a bad data file shows its inline error with the line number', async ({ onTestFailed }) => {
    const bad = path.join(root, 'bad.tsv');
    writeFileSync(bad, 'sentence\tlabel\na good film\t1\nno label on this line\n');
    const page = await openApp(SMALL_VIEWPORT);
    onTestFailed(() => failureShot(page, 'FAILED-data-error'));
    await wizardToData(page);
    const before = serviceErrors.length;
    willPick('data-file', bad);
    await page.getByTestId('data-browse').click();
    const error = page.getByTestId('data-file-error');
    await error.waitFor();
    await expect(error.textContent()).resolves.toMatch(/bad\.tsv line 3 has 1 tab-separated field\(s\), the header has 2/);
    await expect(text(page, 'data-path')).resolves.toBe(bad);
    await expect(page.getByTestId('data-preview').count()).resolves.toBe(0);
    expect(serviceErrors.slice(before)).toEqual([expect.stringMatching(/^previewData: .*bad\.tsv line 3/)]);
    await centre(page, 'data-file-error');
    await shot(page, '11-data-error-1024x700');
    // The wizard will not go on with it.
    await page.getByTestId('wizard-next').click();
    await expect(page.getByTestId('wizard-blockers').textContent()).resolves.toMatch(/The data file cannot be used: .*line 3/);
    await expect(page.getByTestId('wizard-step-data').count()).resolves.toBe(1);
    await centre(page, 'wizard-blockers');
    await shot(page, '12-data-error-blocked-1024x700');
    expect(pickQueue).toEqual([]);
  });

  it('a cancelled run can be resumed and completes', async ({ onTestFailed }) => {
    const page = await openApp();
    onTestFailed(() => failureShot(page, 'FAILED-cancel-resume'));
    await wizardToData(page);
    // Long enough (1,800 steps) to be cancelled by hand while it trains.
    const runId = await finishWizard(page, { epochs: '60', batchSize: '16', lr: '3e-3', evalEvery: '100' });

    // Training, with a first evaluation behind it.
    await status(page, 'running').waitFor({ timeout: 60_000 });
    await expect.poll(async () => stepOf(await text(page, 'run-step')), { timeout: 60_000, interval: 100 }).toBeGreaterThanOrEqual(60);
    await expect.poll(() => text(page, 'best-accuracy')).not.toBe('—');
    await shot(page, '13-monitor-running');

    await page.getByTestId('cancel-run').click();
    await page.getByTestId('confirm-cancel').waitFor();
    await shot(page, '14-cancel-confirm');
    await page.getByTestId('confirm-cancel').click();
    await status(page, 'cancelled').waitFor({ timeout: 60_000 });
    const cancelled = (await server.jobs.get(runId)).run;
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.totalSteps).toBe(1800);
    expect(cancelled.step).toBeGreaterThanOrEqual(60);
    expect(cancelled.step).toBeLessThan(1800);
    await expect.poll(() => text(page, 'run-step')).toBe(`${formatCount(cancelled.step)} of 1,800`);
    await expect(page.getByTestId('resume-run').isEnabled()).resolves.toBe(true);
    await expect(page.getByTestId('cancel-run').count()).resolves.toBe(0);
    await shot(page, '15-cancelled');

    await page.getByTestId('resume-run').click();
    await status(page, 'completed').waitFor({ timeout: 150_000 });
    const summary = await readSummary(runId);
    expect(summary).toMatchObject({ status: 'completed', steps: 1800 });
    await expect.poll(() => text(page, 'run-step')).toBe('1,800 of 1,800');
    await expect.poll(() => text(page, 'best-accuracy')).toBe(formatPercent(summary.best.accuracy));
    // Continued from the cancel's checkpoint, not from the start: the worker says so in the run's log.
    await expect.poll(() => text(page, 'run-log')).toContain(`Resuming from the checkpoint at step ${cancelled.step} of 1800`);
    expect(readFileSync(path.join(cancelled.dir, 'metrics.jsonl'), 'utf8')).toContain(`{"type":"resume","from_step":${cancelled.step},`);
    const seen = statusesOf(runId);
    expect(seen.slice(seen.indexOf('cancelled'))).toEqual(expect.arrayContaining(['cancelled', 'queued', 'running', 'completed']));
    await shot(page, '16-resumed-completed');
  }, 240_000);

  it('nothing went wrong on the pages or in the dialogs', () => {
    expect(pickProblems).toEqual([]);
    expect(pageProblems).toEqual([]);
    // The only service error is the bad file's (when that test ran).
    expect(serviceErrors.filter((e) => !/^previewData: .*bad\.tsv line 3/.test(e))).toEqual([]);
  });
});
