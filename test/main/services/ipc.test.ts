// The IPC layer without Electron: argument schemas, the dialog path grants, and the handlers
// that put them in front of the services.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { IPC, type InvokableMethod, type PickKind } from '../../../src/shared/api';
import { checkNotShadowed, createIpcHandlers, isTrustedSenderUrl, type IpcHandlerDeps } from '../../../src/main/services/ipc-handlers';
import { IPC_ARGS, IpcValidationError, isHubId, parseIpcArgs } from '../../../src/main/services/ipc-schemas';
import { PathAccessError, PathGrants } from '../../../src/main/services/path-grants';

const ROOT = path.resolve('/home/user');
const RUNS = path.join(ROOT, '.distill', 'runs');
const CACHE = path.join(ROOT, '.cache', 'distill-studio');
const at = (...p: string[]) => path.join(ROOT, ...p);

const grantsFor = () => new PathGrants({ runsRoot: () => RUNS, cacheDir: () => CACHE });

describe('parseIpcArgs', () => {
  it('has a schema for every IPC method, and only those', () => {
    expect(Object.keys(IPC_ARGS).sort()).toEqual(Object.keys(IPC).sort());
  });

  it('accepts well-formed arguments', () => {
    expect(parseIpcArgs('getVersion', [])).toEqual([]);
    expect(parseIpcArgs('previewData', [at('data.csv')])).toEqual([at('data.csv')]);
    expect(parseIpcArgs('previewData', [at('data.csv'), undefined])).toEqual([at('data.csv'), undefined]);
    expect(parseIpcArgs('previewData', [at('data.csv'), { text: 'review', label: null }])).toEqual([at('data.csv'), { text: 'review', label: null }]);
    expect(parseIpcArgs('inspectModel', ['prajjwal1/bert-tiny', 'student'])).toEqual(['prajjwal1/bert-tiny', 'student']);
    expect(parseIpcArgs('inspectModel', [at('teacher'), 'teacher'])).toEqual([at('teacher'), 'teacher']);
    expect(parseIpcArgs('exportRun', ['2025-01-02_10-00-00_abc', 'onnx-int8', at('out')])).toEqual(['2025-01-02_10-00-00_abc', 'onnx-int8', at('out')]);
    expect(parseIpcArgs('updateSettings', [{ theme: 'dark', threads: null }])).toEqual([{ theme: 'dark', threads: null }]);
    const [config] = parseIpcArgs('startRun', [{ teacher: at('teacher'), train: 'sst2', epochs: 2 }]);
    expect(config).toMatchObject({ teacher: at('teacher'), train: 'sst2', epochs: 2 });
  });

  const rejects = (method: InvokableMethod, args: unknown[], message: RegExp) => {
    let error: unknown;
    try {
      parseIpcArgs(method, args);
    } catch (e) {
      error = e;
    }
    expect(error, `${method} ${JSON.stringify(args)}`).toBeInstanceOf(IpcValidationError);
    expect((error as Error).message).toMatch(message);
  };

  it('refuses wrong argument counts', () => {
    rejects('getVersion', [1], /^Invalid arguments for getVersion: expected no arguments, got 1$/);
    rejects('pauseRun', [], /^Invalid arguments for pauseRun: expected 1 argument \(runId\), got 0$/);
    rejects('previewData', [at('a.csv'), {}, 'x'], /expected 1 to 2 arguments \(path, columns\), got 3/);
    rejects('exportRun', ['r', 'onnx'], /expected 3 arguments \(runId, format, outDir\), got 2/);
  });

  it('refuses malformed arguments, naming each one', () => {
    rejects('previewData', [42], /^Invalid arguments for previewData — path: expected a path \(a string\)$/);
    rejects('previewData', ['data.csv'], /path: expected an absolute path \(choose it with the dialog\)/);
    rejects('previewData', [`${at('a')}\0.csv`], /path: the path contains a NUL character/);
    rejects('previewData', [at('a.csv'), { text: '', sheet: 1 }], /columns\.text: a column name cannot be empty; columns: Unrecognized key: "sheet"/);
    rejects('pick', ['any-file'], /kind: expected one of data-file, model-folder, run-folder, export-folder/);
    rejects('inspectModel', ['../../etc', 'teacher'], /source: expected a model folder chosen in the dialog or a Hugging Face model id/);
    rejects('inspectModel', ['prajjwal1/bert-tiny', 'judge'], /role: expected teacher or student/);
    rejects('getRun', ['../other'], /runId: expected a run id/);
    rejects('getRun', ['a..b'], /runId: a run id cannot contain "\.\."/);
    rejects('predictBoth', ['run', '   '], /text: the text is empty/);
    rejects('predictBoth', ['run', 'x'.repeat(10_001)], /text: the text is longer than 10 000 characters/);
    rejects('exportRun', ['run', 'pickle', at('out')], /format: expected one of onnx, onnx-int8, hf/);
    rejects('updateSettings', [{ theme: 'neon', admin: true }], /patch\.theme: Invalid option: expected one of "system"\|"light"\|"dark"; patch: Unrecognized key: "admin"/);
    rejects('updateSettings', [{ cacheDir: 'cache' }], /patch\.cacheDir: The cache folder must be an absolute path/);
  });

  it('refuses job configurations with unknown keys, bad values, or relative paths', () => {
    rejects('startRun', [{ teacher: at('t'), shell: 'rm -rf /' }], /config: Unrecognized key: "shell"/);
    rejects('startRun', [{ epochs: 'many', lr: -1 }], /config\.epochs: Invalid input: expected number, received string; config\.lr: .*>0/);
    rejects('startRun', [{ teacher: './teacher' }], /config\.teacher: expected a model folder chosen in the dialog or a Hugging Face model id/);
    rejects('startRun', [{ train: 'data/train.csv' }], /config\.train: expected a data file chosen in the dialog, or 'sst2'/);
    rejects('startRun', [{ valid: 'v.csv', cacheDir: 'c' }], /config\.valid: expected a data file .*; config\.cacheDir: expected a folder chosen in the dialog/);
    rejects('startRun', ['sst2'], /config: Invalid input: expected object, received string/);
  });

  it('tells Hub ids from paths', () => {
    for (const ok of ['prajjwal1/bert-tiny', 'distilbert-base-uncased-finetuned-sst-2-english', 'org/model.v2']) expect(isHubId(ok), ok).toBe(true);
    for (const bad of ['../x', 'a/../b', './x', 'a/b/c', '/abs', 'a b', '', '.hidden/x']) expect(isHubId(bad), bad).toBe(false);
  });
});

describe('PathGrants', () => {
  it('refuses what was not chosen in a dialog', () => {
    const g = grantsFor();
    expect(() => g.check(at('Documents', 'data.csv'), 'The data file')).toThrow(PathAccessError);
    expect(() => g.check(at('Documents', 'data.csv'), 'The data file')).toThrow(
      `The data file (${at('Documents', 'data.csv')}) was not chosen in a dialog: choose it with the app's file dialog first`,
    );
    expect(() => g.check('relative.csv')).toThrow(/is not an absolute path/);
    expect(() => g.check('')).toThrow(/is empty/);
  });

  it('a chosen file grants that file only; a chosen folder grants what is inside it', () => {
    const g = grantsFor();
    g.grant(at('data', 'train.csv'), 'data-file');
    g.grant(at('models', 'teacher'), 'model-folder');
    expect(g.check(at('data', 'train.csv'))).toBe(at('data', 'train.csv'));
    expect(g.allows(at('data', 'valid.csv'))).toBe(false);
    expect(g.allows(at('data'))).toBe(false);
    expect(g.allows(at('models', 'teacher'))).toBe(true);
    expect(g.allows(at('models', 'teacher', 'onnx', 'model.onnx'))).toBe(true);
    // No escaping with .., no sibling sharing a prefix.
    expect(g.allows(at('models', 'teacher', '..', 'student'))).toBe(false);
    expect(g.allows(`${at('models', 'teacher')}-evil`)).toBe(false);
    expect(g.allows(at('models', 'teacher', '..', '..', '.ssh', 'id_rsa'))).toBe(false);
  });

  it("the app's runs root and cache folder are always allowed", () => {
    const g = grantsFor();
    expect(g.allows(path.join(RUNS, 'run-1', 'summary.json'))).toBe(true);
    expect(g.allows(path.join(CACHE, 'hub'))).toBe(true);
    expect(g.allows(path.join(RUNS, '..', 'settings.json'))).toBe(false);
  });

  it('the cache folder allowed is the one in use now', () => {
    let cache = CACHE;
    const g = new PathGrants({ runsRoot: () => RUNS, cacheDir: () => cache });
    cache = at('elsewhere');
    expect(g.allows(path.join(CACHE, 'hub'))).toBe(false);
    expect(g.allows(at('elsewhere', 'hub'))).toBe(true);
  });

  it('compares Windows paths without case', () => {
    const g = new PathGrants({ runsRoot: () => 'C:\\Users\\u\\runs', cacheDir: () => 'C:\\cache', platform: 'win32' });
    g.grant('C:\\Data\\Train.csv', 'data-file');
    expect(g.allows('c:\\data\\train.csv')).toBe(true);
    expect(g.allows('C:\\USERS\\U\\RUNS\\r1')).toBe(true);
    expect(g.allows('C:\\Data\\other.csv')).toBe(false);
  });
});

/** Services that record what reached them. */
function fakeServices() {
  const calls: [string, unknown[]][] = [];
  const rec =
    (name: string, result: unknown = null) =>
    async (...args: unknown[]) => {
      calls.push([name, args]);
      return result;
    };
  const services = {
    getVersion: rec('getVersion', '1.0.0'),
    doctor: rec('doctor'),
    getSettings: rec('getSettings'),
    updateSettings: rec('updateSettings'),
    previewData: rec('previewData'),
    inspectModel: rec('inspectModel'),
    installGpuPack: rec('installGpuPack'),
    startRun: rec('startRun'),
    pauseRun: rec('pauseRun'),
    resumeRun: rec('resumeRun'),
    cancelRun: rec('cancelRun'),
    listRuns: rec('listRuns', []),
    getRun: rec('getRun'),
    compare: rec('compare'),
    predictBoth: rec('predictBoth'),
    exportRun: rec('exportRun'),
    systemUsage: rec('systemUsage'),
  } as unknown as IpcHandlerDeps['services'];
  return { services, calls };
}

function setup(picks: (string | null)[] = []) {
  const { services, calls } = fakeServices();
  const grants = grantsFor();
  const shown: string[] = [];
  const handlers = createIpcHandlers({
    services,
    grants,
    dialogs: {
      pick: async (_kind: PickKind) => picks.shift() ?? null,
      showInFolder: (p) => {
        shown.push(p);
      },
    },
  });
  return { handlers, calls, grants, shown };
}

describe('createIpcHandlers', () => {
  it('has a handler for every IPC method', () => {
    expect(Object.keys(setup().handlers).sort()).toEqual(Object.keys(IPC).sort());
  });

  it('malformed arguments never reach the services', async () => {
    const { handlers, calls } = setup();
    await expect(handlers.getRun(7)).rejects.toThrow(/^Invalid arguments for getRun — runId: expected a run id \(a string\)$/);
    await expect(handlers.listRuns('extra')).rejects.toThrow(/expected no arguments, got 1/);
    await expect(handlers.predictBoth('run')).rejects.toThrow(/expected 2 arguments \(runId, text\), got 1/);
    expect(calls).toEqual([]);
  });

  it('a path the user did not choose is refused; after choosing it in the dialog it is accepted', async () => {
    const file = at('Documents', 'reviews.csv');
    const { handlers, calls } = setup([file]);
    await expect(handlers.previewData(file)).rejects.toThrow(`The data file (${file}) was not chosen in a dialog`);
    expect(calls).toEqual([]);
    expect(await handlers.pick('data-file')).toBe(file);
    await handlers.previewData(file, { label: null });
    expect(calls).toEqual([['previewData', [file, { label: null }]]]);
    // Only that file.
    await expect(handlers.previewData(at('Documents', 'other.csv'))).rejects.toThrow(/was not chosen in a dialog/);
  });

  it('a cancelled dialog grants nothing', async () => {
    const { handlers, grants } = setup([null]);
    expect(await handlers.pick('model-folder')).toBeNull();
    expect(grants.allows(at('anything'))).toBe(false);
  });

  it('export folders, models and show-in-folder are checked too', async () => {
    const out = at('Desktop', 'export');
    const teacher = at('models', 'teacher');
    const { handlers, calls, shown } = setup([out, teacher]);
    await expect(handlers.exportRun('run-1', 'onnx', out)).rejects.toThrow(`The export folder (${out}) was not chosen in a dialog`);
    await expect(handlers.inspectModel(teacher, 'teacher')).rejects.toThrow(/The teacher model .* was not chosen in a dialog/);
    await expect(handlers.showInFolder(at('.ssh'))).rejects.toThrow(/was not chosen in a dialog/);
    await handlers.pick('export-folder');
    await handlers.pick('model-folder');
    await handlers.exportRun('run-1', 'onnx', out);
    await handlers.inspectModel(path.join(teacher, 'onnx', 'model.onnx'), 'teacher');
    await handlers.inspectModel('prajjwal1/bert-tiny', 'student');
    await handlers.showInFolder(path.join(RUNS, 'run-1'));
    expect(calls).toEqual([
      ['exportRun', ['run-1', 'onnx', out]],
      ['inspectModel', [path.join(teacher, 'onnx', 'model.onnx'), 'teacher']],
      ['inspectModel', ['prajjwal1/bert-tiny', 'student']],
    ]);
    expect(shown).toEqual([path.join(RUNS, 'run-1')]);
  });

  it('startRun: every path in the config must have been chosen; only the fields sent are passed on', async () => {
    const teacher = at('models', 'teacher');
    const train = at('data', 'train.csv');
    const { handlers, calls } = setup([teacher, train]);
    await expect(handlers.startRun({ teacher, train })).rejects.toThrow(`The teacher model (${teacher}) was not chosen in a dialog`);
    await handlers.pick('model-folder');
    await expect(handlers.startRun({ teacher, train })).rejects.toThrow(`The training data file (${train}) was not chosen in a dialog`);
    await handlers.pick('data-file');
    await expect(handlers.startRun({ teacher, train, valid: at('data', 'valid.csv') })).rejects.toThrow(/The validation data file .* was not chosen/);
    await expect(handlers.startRun({ teacher, train, cacheDir: at('tmp') })).rejects.toThrow(/The cache folder .* was not chosen/);
    await handlers.startRun({ teacher, student: 'prajjwal1/bert-tiny', train, epochs: 3, cacheDir: CACHE, provider: undefined });
    expect(calls).toEqual([['startRun', [{ teacher, student: 'prajjwal1/bert-tiny', train, epochs: 3, cacheDir: CACHE }]]]);
  });

  it('a Hub id that also names a file in the working folder is refused (the engine would read the file)', async () => {
    const { handlers } = setup();
    // 'test/main' exists relative to the test's working folder (the repository root).
    await expect(handlers.startRun({ teacher: 'test/main' })).rejects.toThrow(/The teacher model "test\/main" also names .* which was not chosen in a dialog/);
    expect(() => checkNotShadowed('sst2', 'The training data', path.join(process.cwd(), 'test'))).not.toThrow();
    expect(() => checkNotShadowed('support', 'The student model', path.join(process.cwd(), 'test'))).toThrow(/The student model "support" also names/);
  });

  it('updateSettings: a new cache folder must have been chosen', async () => {
    const folder = at('big-disk', 'cache');
    const { handlers, calls } = setup([folder]);
    await expect(handlers.updateSettings({ cacheDir: folder })).rejects.toThrow(/The cache folder .* was not chosen in a dialog/);
    await handlers.updateSettings({ theme: 'dark' });
    await handlers.pick('export-folder');
    await handlers.updateSettings({ cacheDir: folder });
    expect(calls).toEqual([
      ['updateSettings', [{ theme: 'dark' }]],
      ['updateSettings', [{ cacheDir: folder }]],
    ]);
  });

  it('calls without paths go straight through after validation', async () => {
    const { handlers, calls } = setup();
    expect(await handlers.getVersion()).toBe('1.0.0');
    await handlers.pauseRun('r1');
    await handlers.predictBoth('r1', 'good film');
    expect(calls).toEqual([
      ['getVersion', []],
      ['pauseRun', ['r1']],
      ['predictBoth', ['r1', 'good film']],
    ]);
  });
});

describe('isTrustedSenderUrl', () => {
  const rendererUrl = 'file:///opt/Distill%20Studio/resources/app.asar/out/renderer/index.html';
  it('trusts only our bundled page, or the dev server origin in development', () => {
    expect(isTrustedSenderUrl(rendererUrl, { rendererUrl })).toBe(true);
    expect(isTrustedSenderUrl(`${rendererUrl}#/runs`, { rendererUrl })).toBe(true);
    expect(isTrustedSenderUrl('file:///tmp/evil.html', { rendererUrl })).toBe(false);
    expect(isTrustedSenderUrl('https://example.com/', { rendererUrl })).toBe(false);
    expect(isTrustedSenderUrl('', { rendererUrl })).toBe(false);
    const dev = { devServerUrl: 'http://localhost:5173/', rendererUrl };
    expect(isTrustedSenderUrl('http://localhost:5173/index.html', dev)).toBe(true);
    expect(isTrustedSenderUrl('http://localhost:51730/', dev)).toBe(false);
    expect(isTrustedSenderUrl('http://localhost:5173.evil.com/', dev)).toBe(false);
    expect(isTrustedSenderUrl(rendererUrl, dev)).toBe(false);
  });
});
