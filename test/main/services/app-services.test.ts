// AppServices on a real (tiny) run folder made by the CLI: data preview, model inspection, the
// teacher/student comparison, predictions with both, and export — no Electron.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppEvent, Comparison } from '../../../src/shared/api';
import { REFERENCE_STUDENT, REFERENCE_TEACHER } from '../../../src/shared/job-config';
import { predictTexts } from '../../../src/engine/pipeline/actions';
import { AppServices } from '../../../src/main/services/app-services';
import { openRun } from '../../../src/main/services/run-models';
import { MemoryStore, SettingsStore } from '../../../src/main/services/settings-store';
import { REPO_ROOT } from '../../support/shared';
import { makeTinyProject, VOCAB, type TinyProject } from '../../support/tiny-project';
import { FakeRuns } from './fakes';

const BIN = path.join(REPO_ROOT, 'bin', 'distill-studio.js');
const root = mkdtempSync(path.join(tmpdir(), 'ds-services-'));
const cacheDir = path.join(root, 'cache');
const runDir = path.join(root, 'runs', 'tiny');
let p: TinyProject;
let summary: {
  best: { accuracy: number; teacherAccuracy: number; agreement: number; sentences: number };
  teacher: { parameters: number; size_bytes: number };
  student: { parameters: number; size_bytes: number };
};
let runs: FakeRuns;
let settings: SettingsStore;
let services: AppServices;
let opens = 0;
const events: AppEvent[] = [];

beforeAll(async () => {
  p = await makeTinyProject(path.join(root, 'project'));
  // A short run: the student is still learning, so it disagrees with the teacher on some sentences.
  const r = spawnSync(
    process.execPath,
    [BIN, 'train', '--teacher', p.teacherDir, '--student', p.studentDir, '--train', p.trainFile, '--valid', p.validFile,
      '--max-steps', '20', '--batch-size', '16', '--lr', '3e-3', '--eval-every', '10', '--order', 'file', '--dropout', 'off', '--out', runDir],
    { encoding: 'utf8', timeout: 300_000, env: { ...process.env, DISTILL_STUDIO_CACHE: cacheDir } },
  );
  if (r.status !== 0) throw new Error(`training failed: ${r.stderr}`);
  summary = JSON.parse(readFileSync(path.join(runDir, 'summary.json'), 'utf8'));
  runs = new FakeRuns();
  runs.add('tiny', runDir);
  settings = new SettingsStore(new MemoryStore(), { defaultCacheDir: cacheDir });
  services = new AppServices({
    runs,
    settings,
    doctor: async () => ({
      hardware: { platform: 'linux', arch: 'x64', cpu: { model: 'cpu', cores: 2 }, memory: { totalBytes: 1, freeBytes: 1 }, cacheDisk: { path: cacheDir, freeBytes: null }, gpus: [], notes: ['hw note'] },
      decision: { provider: 'cpu', reasons: ['r'], gpuPack: 'not-needed', override: 'auto' },
      versions: {},
    }),
    installGpuPack: async ({ onProgress }) => {
      onProgress({ received: 10, total: 20 });
    },
    paths: { runsRoot: path.join(root, 'runs'), cacheDir },
    version: '1.2.3',
    compare: { latencySamples: 20 },
    runModels: {
      open: (dir, o) => {
        opens++;
        return openRun(dir, o);
      },
    },
  });
  services.onEvent((e) => events.push(e));
}, 300_000);

afterAll(async () => {
  await services?.dispose();
  rmSync(root, { recursive: true, force: true });
});

describe('previewData', () => {
  it('a good TSV: rows, columns, detected mapping, first 20 rows, label counts', async () => {
    const d = await services.previewData(p.trainFile);
    const lines = readFileSync(p.trainFile, 'utf8').trim().split('\n').slice(1);
    expect(d).toMatchObject({ path: p.trainFile, format: 'tsv', rows: 480, columns: ['sentence', 'label'], textColumn: 'sentence', labelColumn: 'label' });
    expect(d.sample).toHaveLength(20);
    expect(d.sample[0]).toEqual({ text: lines[0]!.split('\t')[0], label: lines[0]!.split('\t')[1] });
    expect(Object.keys(d.labelCounts).sort()).toEqual(['0', '1']);
    expect(d.labelCounts['0']! + d.labelCounts['1']!).toBe(480);
    expect(d.labelCounts['1']).toBe(lines.filter((l) => l.endsWith('\t1')).length);
    expect(d.notes.join(' ')).toMatch(/text column 'sentence' \(auto-detected\)/);
  });

  it('labels given as names are counted as written; a chosen mapping is used', async () => {
    const csv = path.join(root, 'names.csv');
    writeFileSync(csv, 'review,sentiment,id\n"good, really",Positive,1\nbad film,negative,2\ndull,negative,3\n');
    const d = await services.previewData(csv, { text: 'review', label: 'sentiment' });
    expect(d).toMatchObject({ format: 'csv', rows: 3, columns: ['review', 'sentiment', 'id'], textColumn: 'review', labelColumn: 'sentiment' });
    expect(d.labelCounts).toEqual({ Positive: 1, negative: 2 });
    expect(d.sample[0]).toEqual({ text: 'good, really', label: 'Positive' });
    expect(d.notes.join(' ')).toMatch(/are names/);

    const unlabeled = await services.previewData(csv, { text: 'review', label: null });
    expect(unlabeled.labelColumn).toBeNull();
    expect(unlabeled.labelCounts).toEqual({});
    expect(unlabeled.sample[1]).toEqual({ text: 'bad film', label: null });
  });

  it('a bad file is refused with a message that names the file, the line and the fix', async () => {
    const bad = path.join(root, 'bad.tsv');
    writeFileSync(bad, 'sentence\tlabel\ngood film\t1\nno label here\n');
    await expect(services.previewData(bad)).rejects.toThrow(/bad\.tsv line 3 has 1 tab-separated field\(s\), the header has 2/);
    const json = path.join(root, 'bad.jsonl');
    writeFileSync(json, '{"text": "fine", "label": 1}\n{"text": oops}\n');
    await expect(services.previewData(json)).rejects.toThrow(/bad\.jsonl line 2 is not valid JSON/);
    await expect(services.previewData(p.trainFile, { text: 'review' })).rejects.toThrow(/has no text column 'review'.*columns found: 'sentence', 'label'/);
    await expect(services.previewData(path.join(root, 'missing.csv'))).rejects.toThrow(/Cannot read dataset .*missing\.csv/);
    await expect(services.previewData(path.join(root, 'data.xlsx'))).rejects.toThrow(/unknown dataset format '\.xlsx'/);
  });
});

describe('inspectModel', () => {
  it('a local teacher folder (and its .onnx file)', async () => {
    const m = await services.inspectModel(p.teacherDir, 'teacher');
    expect(m).toMatchObject({ source: p.teacherDir, role: 'teacher', arch: 'distilbert', parameters: summary.teacher.parameters, labels: ['NEGATIVE', 'POSITIVE'], vocabSize: VOCAB.length, maxLength: 64 });
    expect(m.sizeBytes).toBeGreaterThan(statSync(path.join(p.teacherDir, 'onnx', 'model.onnx')).size);
    expect(m.notes.join(' ')).toMatch(/ONNX model onnx\/model\.onnx: a text classifier with inputs input_ids, attention_mask/);
    const f = await services.inspectModel(path.join(p.teacherDir, 'onnx', 'model.onnx'), 'teacher');
    expect(f).toMatchObject({ arch: 'distilbert', parameters: summary.teacher.parameters, sizeBytes: statSync(path.join(p.teacherDir, 'onnx', 'model.onnx')).size });
  });

  it('a local student folder', async () => {
    const m = await services.inspectModel(p.studentDir, 'student');
    expect(m).toMatchObject({ role: 'student', arch: 'bert', labels: null, vocabSize: VOCAB.length });
    // The student's head is sized to the teacher's two labels, as in the run.
    expect(m.parameters).toBe(summary.student.parameters);
    expect(m.notes.join(' ')).toMatch(/sized to the teacher's labels/);
  });

  it('a folder that is not a model, and a student given as a file, say why', async () => {
    const empty = path.join(root, 'empty-model');
    mkdirSync(empty, { recursive: true });
    const m = await services.inspectModel(empty, 'teacher');
    expect(m.arch).toBeNull();
    expect(m.notes.join(' ')).toMatch(/has no config\.json/);
    expect(m.notes.join(' ')).toMatch(/No ONNX model in/);
    await expect(services.inspectModel(p.trainFile, 'student')).rejects.toThrow(/is a file: the student must be a model folder/);
    await expect(services.inspectModel(path.join(root, 'nope'), 'teacher')).rejects.toThrow(/does not exist/);
    await expect(services.inspectModel('not a hub id!', 'teacher')).rejects.toThrow(/neither a model folder .* nor a Hugging Face model id/);
  });

  it('Hub ids: what is known without downloading, with a note', async () => {
    const t = await services.inspectModel(REFERENCE_TEACHER, 'teacher');
    expect(t).toMatchObject({ source: REFERENCE_TEACHER, arch: 'distilbert', parameters: 66_955_010, labels: ['NEGATIVE', 'POSITIVE'], sizeBytes: null });
    expect(t.notes.join(' ')).toMatch(/not downloaded yet/);
    const s = await services.inspectModel(REFERENCE_STUDENT, 'student');
    expect(s).toMatchObject({ arch: 'bert', parameters: 4_386_178, vocabSize: 30522 });
    const u = await services.inspectModel('someone/some-model', 'student');
    expect(u).toMatchObject({ arch: null, parameters: null, labels: null, sizeBytes: null });
    expect(u.notes.join(' ')).toMatch(/known once it is downloaded/);
  });

  it('a Hub id already in the download cache is read from there', async () => {
    const snap = path.join(cacheDir, 'hub', 'models--someone--tiny-teacher');
    mkdirSync(path.join(snap, 'refs'), { recursive: true });
    writeFileSync(path.join(snap, 'refs', 'main'), 'abc123');
    cpSync(p.teacherDir, path.join(snap, 'snapshots', 'abc123'), { recursive: true });
    const m = await services.inspectModel('someone/tiny-teacher', 'teacher');
    expect(m).toMatchObject({ source: 'someone/tiny-teacher', arch: 'distilbert', parameters: summary.teacher.parameters, labels: ['NEGATIVE', 'POSITIVE'] });
    expect(m.notes[0]).toMatch(/from the download cache/);
  });
});

describe('compare, predictBoth, exportRun', () => {
  let c: Comparison;
  beforeAll(async () => {
    c = await services.compare('tiny');
  });

  it("agrees with the run's summary.json", () => {
    expect(c.labels).toEqual(['NEGATIVE', 'POSITIVE']);
    expect(c.student.accuracy).toBeCloseTo(summary.best.accuracy, 10);
    expect(c.teacher.accuracy).toBeCloseTo(summary.best.teacherAccuracy, 10);
    expect(c.agreement).toBeCloseTo(summary.best.agreement, 10);
    expect(c.student.parameters).toBe(summary.student.parameters);
    expect(c.teacher.parameters).toBe(summary.teacher.parameters);
    expect(c.student.sizeBytes).toBe(summary.student.size_bytes);
    expect(c.teacher.sizeBytes).toBe(summary.teacher.size_bytes);
    expect(c.teacher.label).toBe(p.teacherDir);
    expect(c.student.label).toBe(p.studentDir);
  });

  it('confusion matrices, disagreements with both probability vectors, latency measured now', () => {
    const n = summary.best.sentences;
    for (const side of [c.teacher, c.student]) {
      const m = side.confusion;
      expect(m).toHaveLength(2);
      expect(m.flat().reduce((a, b) => a + b, 0)).toBe(n);
      expect((m[0]![0]! + m[1]![1]!) / n).toBeCloseTo(side.accuracy, 12);
      expect(side.latencyP50Ms).toBeGreaterThan(0);
      expect(side.latencyP95Ms).toBeGreaterThanOrEqual(side.latencyP50Ms);
      expect(side.sentencesPerSecond).toBeGreaterThan(0);
    }
    expect(c.agreement).toBeLessThan(1);
    expect(c.disagreements.length).toBe(Math.round((1 - c.agreement) * n));
    const argmax = (v: number[]) => v.indexOf(Math.max(...v));
    const valid = readFileSync(path.join(runDir, 'validation.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { text: string; label: number });
    for (const d of c.disagreements) {
      expect(d.teacher).toHaveLength(2);
      expect(d.teacher[0]! + d.teacher[1]!).toBeCloseTo(1, 5);
      expect(d.student[0]! + d.student[1]!).toBeCloseTo(1, 5);
      expect(argmax(d.teacher)).not.toBe(argmax(d.student));
      expect(valid.find((v) => v.text === d.text)?.label).toBe(d.label);
    }
  });

  it('predictBoth: both models on one sentence, sessions kept open per run', async () => {
    const before = opens;
    const a = await services.predictBoth('tiny', 'a wonderful charming film');
    const b = await services.predictBoth('tiny', 'the plot was dull and tedious');
    expect(opens).toBe(before); // opened once by compare, reused since
    expect(a.text).toBe('a wonderful charming film');
    expect(a.teacher.label).toBe('POSITIVE');
    expect(b.teacher.label).toBe('NEGATIVE');
    for (const r of [a, b]) {
      for (const side of [r.teacher, r.student]) {
        expect(side.probabilities).toHaveLength(2);
        expect(side.probabilities[0]! + side.probabilities[1]!).toBeCloseTo(1, 5);
        expect(side.label).toBe(side.probabilities[0]! > side.probabilities[1]! ? 'NEGATIVE' : 'POSITIVE');
      }
    }
    // The student is the run's best model: the same probabilities as the engine's predict on the run folder.
    const [ref] = await predictTexts({ model: runDir, texts: ['a wonderful charming film'] });
    expect(a.student.probabilities[0]).toBeCloseTo(ref!.probabilities.NEGATIVE!, 5);
    expect(a.student.probabilities[1]).toBeCloseTo(ref!.probabilities.POSITIVE!, 5);
  });

  it('exportRun: the engine export, verified on the validation sentences', async () => {
    const out = path.join(root, 'exported');
    const r = await services.exportRun('tiny', 'onnx', out);
    expect(r).toMatchObject({ format: 'onnx', path: path.join(out, 'model.onnx') });
    expect(r.bytes).toBe(statSync(path.join(out, 'model.onnx')).size);
    expect(r.verification).toMatchObject({ sentences: summary.best.sentences, identicalPredictions: true, agreementWithTrained: 1 });
    expect(r.verification.accuracy).toBeCloseTo(summary.best.accuracy, 10);
  });

  it('exportRun never replaces a folder that holds files: it exports into a new subfolder', async () => {
    const desktop = path.join(root, 'Desktop');
    mkdirSync(desktop, { recursive: true });
    writeFileSync(path.join(desktop, 'notes.txt'), 'keep me');
    const a = await services.exportRun('tiny', 'hf', desktop);
    expect(a.path).toBe(path.join(desktop, 'tiny-hf'));
    expect(a.verification.identicalPredictions).toBe(true);
    expect(statSync(path.join(desktop, 'tiny-hf', 'onnx', 'model.onnx')).size).toBeGreaterThan(0);
    const b = await services.exportRun('tiny', 'onnx-int8', desktop);
    expect(b.path).toBe(path.join(desktop, 'tiny-onnx-int8', 'model_quantized.onnx'));
    const c = await services.exportRun('tiny', 'hf', desktop);
    expect(c.path).toBe(path.join(desktop, 'tiny-hf-2'));
    expect(readFileSync(path.join(desktop, 'notes.txt'), 'utf8')).toBe('keep me');
    expect(readdirSync(desktop).sort()).toEqual(['notes.txt', 'tiny-hf', 'tiny-hf-2', 'tiny-onnx-int8']);
  });

  it('unknown runs and runs without a best checkpoint are refused clearly', async () => {
    await expect(services.compare('nope')).rejects.toThrow(/No run nope/);
    const empty = path.join(root, 'runs', 'empty');
    mkdirSync(empty, { recursive: true });
    runs.add('empty', empty);
    await expect(services.predictBoth('empty', 'hello')).rejects.toThrow(/is not a run folder \(no config\.json\)/);
    await expect(services.exportRun('empty', 'onnx', path.join(root, 'x'))).rejects.toThrow(/is not a run folder/);
  });
});

describe('runs, settings, events', () => {
  it('startRun fills what the config leaves out from the settings, and remembers the run', async () => {
    settings.update({ provider: 'cpu', threads: 2 });
    const r = await services.startRun({ teacher: p.teacherDir, provider: 'auto' });
    expect(runs.started.at(-1)).toEqual({ teacher: p.teacherDir, provider: 'auto', threads: 2, cacheDir });
    await services.startRun({ teacher: p.teacherDir, threads: null });
    expect(runs.started.at(-1)).toEqual({ teacher: p.teacherDir, provider: 'cpu', threads: null, cacheDir });
    expect(settings.recentRuns().slice(0, 2)).toEqual(['run-2', r.id]);
    await services.pauseRun('tiny');
    await services.resumeRun('tiny');
    await services.cancelRun('tiny');
    expect(runs.calls).toEqual(['pause tiny', 'resume tiny', 'cancel tiny']);
    expect((await services.listRuns()).map((x) => x.id)).toContain('tiny');
    expect((await services.getRun('tiny')).run.dir).toBe(runDir);
    expect(await services.getVersion()).toBe('1.2.3');
  });

  it('forwards run events and reports GPU pack progress', async () => {
    events.length = 0;
    runs.push({ kind: 'job', runId: 'tiny', event: { type: 'log', level: 'info', message: 'hi' } });
    await services.installGpuPack();
    expect(events).toEqual([
      { kind: 'job', runId: 'tiny', event: { type: 'log', level: 'info', message: 'hi' } },
      { kind: 'gpu-pack', received: 10, total: 20, done: false, error: null },
      { kind: 'gpu-pack', received: 10, total: 20, done: true, error: null },
    ]);
  });

  it('a failed GPU pack install is reported as an event and rejects', async () => {
    const s = new AppServices({
      runs: new FakeRuns(),
      settings,
      doctor: services.doctor.bind(services),
      installGpuPack: async () => {
        throw new Error('no network');
      },
      paths: { runsRoot: root, cacheDir },
    });
    const seen: AppEvent[] = [];
    s.onEvent((e) => seen.push(e));
    await expect(s.installGpuPack()).rejects.toThrow('no network');
    expect(seen).toEqual([{ kind: 'gpu-pack', received: 0, total: null, done: true, error: 'no network' }]);
    await s.dispose();
  });

  it('the doctor report carries the notes about unreadable settings', async () => {
    const broken = new SettingsStore(new MemoryStore(), { defaultCacheDir: cacheDir, notes: ['The settings file is not valid JSON'] });
    const s = new AppServices({ runs: new FakeRuns(), settings: broken, doctor: () => services.doctor(), installGpuPack: async () => undefined, paths: { runsRoot: root, cacheDir } });
    const r = await s.doctor();
    expect(r.hardware.notes).toEqual(['hw note', 'The settings file is not valid JSON']);
    await s.dispose();
  });
});
