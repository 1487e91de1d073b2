// The CLI end to end, as a user runs it: a child process per command, on a tiny project the
// engine generates (teacher trained here, random student, labelled sentences).
import * as ort from 'onnxruntime-node';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, copyFileSync, mkdirSync, truncateSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../support/shared';
import { makeTinyProject, type TinyProject } from '../../support/tiny-project';

const BIN = path.join(REPO_ROOT, 'bin', 'distill-studio.js');
const root = mkdtempSync(path.join(tmpdir(), 'ds-cli-'));
let p: TinyProject;
afterAll(() => rmSync(root, { recursive: true, force: true }));
beforeAll(async () => {
  p = await makeTinyProject(path.join(root, 'project'));
}, 120_000);

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, DISTILL_STUDIO_CACHE: path.join(root, 'cache') } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const trainArgs = (out: string, extra: string[] = []) => [
  'train', '--teacher', p.teacherDir, '--student', p.studentDir, '--train', p.trainFile, '--valid', p.validFile,
  '--epochs', '3', '--batch-size', '16', '--lr', '3e-3', '--eval-every', '10', '--order', 'file', '--dropout', 'off', '--out', out, ...extra,
];

describe('distill-studio CLI', () => {
  it('doctor prints the CPU path with its reasons', () => {
    const r = cli(['doctor']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Decision:\s+CPU \(test run passed/);
    expect(r.stdout).toMatch(/training will use the CPU/);
    const j = cli(['doctor', '--json']);
    expect(JSON.parse(j.stdout).decision.provider).toBe('cpu');
  });

  it('train → predict → eval → export (onnx, onnx-int8, hf), with a complete run folder', async () => {
    const out = path.join(root, 'run');
    const r = cli([...trainArgs(out), '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.at(-1)).toMatchObject({ type: 'done', status: 'completed' });
    expect(events.some((e) => e.type === 'eval')).toBe(true);
    const s = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8'));
    expect(s).toMatchObject({ steps: 90, batch_size: 16, provider: 'cpu', status: 'completed' });
    for (const k of ['download', 'tokenize', 'teacher', 'train', 'evaluate', 'export']) expect(s.stages[k].seconds).toBeGreaterThanOrEqual(0);
    expect(s.stages.teacher.sentences).toBe(480 + 96);
    expect(s.stages.train.steps).toBe(90);
    expect(s.final.accuracy).toBeGreaterThan(0.9);
    expect(s.best.step).toBeGreaterThan(0);
    expect(s.final.agreement).toBeGreaterThan(0.9);
    for (const f of ['config.json', 'metrics.jsonl', 'validation.jsonl', 'export/model.onnx', 'checkpoints/best/model.safetensors', 'checkpoints/latest.json']) {
      expect(existsSync(path.join(out, f)), f).toBe(true);
    }

    const pr = cli(['predict', '--model', out, '--json', 'a wonderful charming film', 'the plot was dull and tedious']);
    expect(pr.code).toBe(0);
    expect(pr.stdout.trim().split('\n').map((l) => JSON.parse(l).label)).toEqual(['POSITIVE', 'NEGATIVE']);

    const ev = cli(['eval', '--model', out, '--data', p.validFile, '--json']);
    expect(ev.code).toBe(0);
    expect(JSON.parse(ev.stdout).accuracy).toBeCloseTo(s.best.accuracy, 10);

    for (const format of ['onnx', 'onnx-int8', 'hf']) {
      const dir = path.join(root, `export-${format}`);
      const ex = cli(['export', '--run', out, '--format', format, '--out', dir, '--json']);
      expect(ex.stderr, format).toBe('');
      const res = JSON.parse(ex.stdout);
      expect(res.verification.sentences).toBe(96);
      if (format !== 'onnx-int8') expect(res.verification.identicalPredictions).toBe(true);
      else expect(res.verification.agreementWithTrained).toBeGreaterThan(0.9);
      const file = format === 'hf' ? path.join(dir, 'onnx', 'model.onnx') : res.path;
      const session = await ort.InferenceSession.create(file);
      expect(session.outputNames).toEqual(['logits']);
      await session.release();
    }
    expect(existsSync(path.join(root, 'export-hf', 'model.safetensors'))).toBe(true);
    // An existing export is not overwritten without --force.
    const again = cli(['export', '--run', out, '--format', 'hf', '--out', path.join(root, 'export-hf')]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/export-hf/);
    expect(cli(['export', '--run', out, '--format', 'onnx', '--out', path.join(root, 'export-onnx'), '--force']).code).toBe(0);
    expect(existsSync(path.join(root, 'export-hf', 'README.md'))).toBe(true);
  });

  it('a run killed with SIGKILL during training resumes to the same final result', async () => {
    const ref = path.join(root, 'ref');
    expect(cli(trainArgs(ref, ['--checkpoint-every', '7'])).code).toBe(0);

    const out = path.join(root, 'killed');
    const child = spawn(process.execPath, [BIN, ...trainArgs(out, ['--checkpoint-every', '7', '--json'])], { env: { ...process.env, DISTILL_STUDIO_CACHE: path.join(root, 'cache') } });
    let buf = '';
    let killedAt = -1;
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        for (const line of buf.split('\n').slice(0, -1)) {
          const e = JSON.parse(line);
          if (killedAt < 0 && e.type === 'step' && e.step >= 40) {
            killedAt = e.step;
            child.kill('SIGKILL');
          }
        }
        buf = buf.slice(buf.lastIndexOf('\n') + 1);
      });
      child.on('exit', () => resolve());
    });
    expect(killedAt).toBeGreaterThan(0);
    expect(existsSync(path.join(out, 'summary.json'))).toBe(false);

    const resumed = cli(['train', '--out', out, '--resume']);
    expect(resumed.stdout).toMatch(/Resuming from the checkpoint at step \d+/);
    expect(resumed.code).toBe(0);
    const a = JSON.parse(readFileSync(path.join(ref, 'summary.json'), 'utf8'));
    const b = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8'));
    expect(b.steps).toBe(a.steps);
    expect(b.final).toEqual(a.final);
    expect(b.best.step).toBe(a.best.step);
    expect(readFileSync(path.join(out, 'export', 'model.onnx')).equals(readFileSync(path.join(ref, 'export', 'model.onnx')))).toBe(true);
  });

  describe('bad input: one clear line, nothing half-written', () => {
    const bad = (name: string) => path.join(root, `bad-${name}`);
    const noTemp = (dir: string) => {
      if (!existsSync(dir)) return;
      const walk = (d: string): string[] => readdirSync(d).flatMap((f) => (statSync(path.join(d, f)).isDirectory() ? walk(path.join(d, f)) : [f]));
      expect(walk(dir).filter((f) => /tmp|partial|incomplete/.test(f))).toEqual([]);
      expect(existsSync(path.join(dir, 'summary.json'))).toBe(false);
    };
    const oneLine = (stderr: string) => {
      const lines = stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(stderr).not.toMatch(/\n\s+at /);
      return lines[0];
    };

    it('a missing teacher folder', () => {
      const r = cli(['train', '--teacher', './no/such/teacher', '--student', p.studentDir, '--train', p.trainFile, '--out', bad('teacher')]);
      expect(r.code).toBe(1);
      expect(oneLine(r.stderr)).toMatch(/teacher folder .*no\/such\/teacher does not exist/);
    });

    it('an unknown label, naming file and line', () => {
      const file = path.join(root, 'badlabel.tsv');
      writeFileSync(file, 'sentence\tlabel\ngood film\t1\nbad film\tmaybe\n');
      const r = cli(['train', '--teacher', p.teacherDir, '--student', p.studentDir, '--train', file, '--out', bad('label')]);
      expect(r.code).toBe(1);
      const line = oneLine(r.stderr);
      expect(line).toMatch(/badlabel\.tsv/);
      expect(line).toMatch(/line 3/);
      expect(line).toMatch(/maybe/);
      noTemp(bad('label'));
    });

    it('a truncated student checkpoint', () => {
      const dir = path.join(root, 'student-truncated');
      mkdirSync(dir);
      for (const f of readdirSync(p.studentDir)) copyFileSync(path.join(p.studentDir, f), path.join(dir, f));
      truncateSync(path.join(dir, 'model.safetensors'), 5000);
      const r = cli(['train', '--teacher', p.teacherDir, '--student', dir, '--train', p.trainFile, '--out', bad('ckpt')]);
      expect(r.code).toBe(1);
      expect(oneLine(r.stderr)).toMatch(/model\.safetensors is truncated/);
      noTemp(bad('ckpt'));
    });

    it('a teacher without a logits output', () => {
      const r = cli(['train', '--teacher', p.studentDir, '--student', p.studentDir, '--train', p.trainFile, '--out', bad('nologits')]);
      expect(r.code).toBe(1);
      expect(oneLine(r.stderr)).toMatch(/No ONNX model in .*student/);
    });

    it('an existing run folder without --resume, and bad flags', () => {
      const r = cli(trainArgs(path.join(root, 'run')));
      expect(r.code).toBe(1);
      expect(oneLine(r.stderr)).toMatch(/already holds files from an earlier run: pass --resume/);
      const f = cli(['train', '--out', bad('flags'), '--epochs', 'three']);
      expect(f.code).toBe(2);
      expect(f.stderr).toMatch(/--epochs must be a whole number/);
      const c = cli(['train', '--out', bad('flags2'), '--lr', '-1']);
      expect(c.code).toBe(1);
      expect(oneLine(c.stderr)).toMatch(/lr/);
    });
  });
});
