// Opened runs are reused, serialized per run, closed least recently used first, and not cached when opening fails.
import { describe, expect, it } from 'vitest';
import { RunModels, type OpenedRun } from '../../../src/main/services/run-models';

function fakeOpen() {
  const opened: string[] = [];
  const released: string[] = [];
  const open = async (dir: string): Promise<OpenedRun> => {
    opened.push(dir);
    if (dir.endsWith('broken')) throw new Error(`${dir} is not a run folder`);
    const session = { release: async () => void released.push(dir) };
    return { runDir: dir, teacher: { session }, student: { session: { release: async () => undefined } } } as unknown as OpenedRun;
  };
  return { open, opened, released };
}

describe('RunModels', () => {
  it('reuses an opened run and closes the least recently used beyond the limit', async () => {
    const f = fakeOpen();
    const m = new RunModels({ open: f.open, max: 2 });
    await m.use('/r/a', async () => 1);
    await m.use('/r/b', async () => 1);
    await m.use('/r/a', async () => 1);
    await m.use('/r/c', async () => 1); // evicts b
    expect(f.opened).toEqual(['/r/a', '/r/b', '/r/c']);
    await new Promise((r) => setTimeout(r, 10));
    expect(f.released).toEqual(['/r/b']);
    expect(m.size).toBe(2);
    await m.dispose();
    expect(f.released.sort()).toEqual(['/r/a', '/r/b', '/r/c']);
  });

  it('runs uses of one run one after another', async () => {
    const f = fakeOpen();
    const m = new RunModels({ open: f.open });
    const log: string[] = [];
    const slow = m.use('/r/a', async () => {
      log.push('slow start');
      await new Promise((r) => setTimeout(r, 30));
      log.push('slow end');
    });
    const fast = m.use('/r/a', async () => {
      log.push('fast');
    });
    await Promise.all([slow, fast]);
    expect(log).toEqual(['slow start', 'slow end', 'fast']);
    await m.dispose();
  });

  it('a failed open is reported and retried next time', async () => {
    const f = fakeOpen();
    const m = new RunModels({ open: f.open });
    await expect(m.use('/r/broken', async () => 1)).rejects.toThrow('/r/broken is not a run folder');
    await expect(m.use('/r/broken', async () => 1)).rejects.toThrow('/r/broken is not a run folder');
    expect(f.opened).toEqual(['/r/broken', '/r/broken']);
    // An error in one use does not block the next.
    await expect(m.use('/r/a', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await m.use('/r/a', async () => 'ok')).toBe('ok');
    await m.dispose();
  });
});
