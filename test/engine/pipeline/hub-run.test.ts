// The reference job's defaults end to end against a local stand-in for the Hugging Face Hub:
// teacher, student and GLUE SST-2 (parquet) are downloaded over real HTTP, then offline
// mode reuses the cache, and an empty cache offline says so clearly.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJobConfig, REFERENCE_STUDENT, REFERENCE_TEACHER } from '../../../src/shared/job-config';
import { runJob } from '../../../src/engine/pipeline/run-job';
import { FakeHub, type FakeFile } from '../hub/fake-hub';
import { makeTinyProject, sentences } from '../../support/tiny-project';

const root = mkdtempSync(path.join(tmpdir(), 'ds-hubrun-'));
const hub = new FakeHub();
let savedEndpoint: string | undefined;

function folderFiles(dir: string, prefix = ''): Record<string, FakeFile> {
  const out: Record<string, FakeFile> = {};
  for (const f of readdirSync(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${f.name}` : f.name;
    if (f.isDirectory()) Object.assign(out, folderFiles(dir, rel));
    else out[rel] = { data: readFileSync(path.join(dir, rel)), lfs: /\.(onnx|safetensors)$/.test(f.name) };
  }
  return out;
}

function sst2Parquet(rows: { text: string; label: number }[]): Buffer {
  return Buffer.from(
    parquetWriteBuffer({
      columnData: [
        { name: 'sentence', data: rows.map((r) => r.text), type: 'STRING' },
        { name: 'label', data: rows.map((r) => BigInt(r.label)), type: 'INT64' },
        { name: 'idx', data: rows.map((_, i) => i), type: 'INT32' },
      ],
    }),
  );
}

beforeAll(async () => {
  const p = await makeTinyProject(path.join(root, 'project'));
  hub.addRepo(`distilbert/${REFERENCE_TEACHER}`, { type: 'model', files: folderFiles(p.teacherDir) });
  hub.addRepo(REFERENCE_STUDENT, { type: 'model', files: folderFiles(p.studentDir) });
  hub.addRepo('nyu-mll/glue', {
    type: 'dataset',
    files: {
      'sst2/train-00000-of-00001.parquet': { data: sst2Parquet(sentences(320, 1)), lfs: true },
      'sst2/validation-00000-of-00001.parquet': { data: sst2Parquet(sentences(64, 2)), lfs: true },
    },
  });
  savedEndpoint = process.env.HF_ENDPOINT;
  process.env.HF_ENDPOINT = await hub.start();
}, 120_000);

afterAll(async () => {
  if (savedEndpoint === undefined) delete process.env.HF_ENDPOINT;
  else process.env.HF_ENDPOINT = savedEndpoint;
  await hub.close();
  rmSync(root, { recursive: true, force: true });
});

describe('the reference job against a local Hub', () => {
  const cacheDir = path.join(root, 'cache');
  const job = (over: Record<string, unknown> = {}) => parseJobConfig({ epochs: 5, batchSize: 16, lr: 3e-3, cacheDir, ...over });

  it('downloads teacher, student and SST-2 with the defaults, then trains and exports', async () => {
    const s = await runJob(job(), { out: path.join(root, 'run1') });
    expect(s.status).toBe('completed');
    expect(s.best.sentences).toBe(64); // the GLUE validation split
    expect(s.best.accuracy).toBeGreaterThan(0.9);
    const paths = hub.requests.map((r) => r.path);
    expect(paths.some((q) => q.startsWith(`/distilbert/${REFERENCE_TEACHER}/resolve/`) && q.endsWith('/onnx/model.onnx'))).toBe(true);
    expect(paths.some((q) => q.startsWith(`/${REFERENCE_STUDENT}/resolve/`) && q.endsWith('/model.safetensors'))).toBe(true);
    expect(paths.some((q) => q.startsWith('/datasets/nyu-mll/glue/resolve/') && q.endsWith('/sst2/train-00000-of-00001.parquet'))).toBe(true);
  });

  it('offline mode trains from the cache without a request', async () => {
    const before = hub.requests.length;
    const s = await runJob(job({ offline: true }), { out: path.join(root, 'run2') });
    expect(s.status).toBe('completed');
    expect(hub.requests.length).toBe(before);
  });

  it('offline with an empty cache says what is missing and what to do', async () => {
    const err = await runJob(job({ offline: true, cacheDir: path.join(root, 'empty-cache') }), { out: path.join(root, 'run3') }).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(/not in the cache and offline mode is on/);
    expect(err.message.split('\n')).toHaveLength(1);
  });
});
