import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { debounce, latestOnly, poll, throttle } from '../../src/renderer/src/lib/timing';
import { resolveTheme, applyTheme } from '../../src/renderer/src/lib/theme';

describe('timing', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('throttle: at once, then at most once per window with the latest arguments', () => {
    const calls: number[] = [];
    const t = throttle((n: number) => calls.push(n), 250);
    t(1);
    expect(calls).toEqual([1]);
    t(2);
    t(3);
    expect(calls).toEqual([1]);
    vi.advanceTimersByTime(250);
    expect(calls).toEqual([1, 3]);
    for (let i = 0; i < 100; i++) {
      t(i);
      vi.advanceTimersByTime(10);
    }
    // 1000 ms of calls every 10 ms: about four redraws
    expect(calls.length).toBeGreaterThanOrEqual(5);
    expect(calls.length).toBeLessThanOrEqual(7);
    t(500);
    t.cancel();
    vi.advanceTimersByTime(1000);
    expect(calls.at(-1)).not.toBe(500);
    t(600);
    t.flush();
    expect(calls.at(-1)).toBe(600);
  });

  it('debounce: once, after the calls stop', () => {
    const calls: string[] = [];
    const d = debounce((s: string) => calls.push(s), 300);
    d('g');
    vi.advanceTimersByTime(100);
    d('go');
    vi.advanceTimersByTime(100);
    d('good');
    expect(calls).toEqual([]);
    vi.advanceTimersByTime(300);
    expect(calls).toEqual(['good']);
    d('x');
    d.cancel();
    vi.advanceTimersByTime(1000);
    expect(calls).toEqual(['good']);
  });

  it('latestOnly: only the newest request counts', () => {
    const l = latestOnly();
    const a = l.next();
    const b = l.next();
    expect(l.isLatest(a)).toBe(false);
    expect(l.isLatest(b)).toBe(true);
  });

  it('poll: at once, then every interval after each call settles, until cancelled', async () => {
    let calls = 0;
    let release: (() => void) | null = null;
    const p = poll(() => {
      calls++;
      if (calls === 2) return new Promise<void>((r) => (release = r));
      if (calls === 3) throw new Error('a failed call does not stop polling');
      return undefined;
    }, 2000);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(1999);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toBe(2);
    // the second call is still pending: no overlapping call
    await vi.advanceTimersByTimeAsync(5000);
    expect(calls).toBe(2);
    release!();
    await vi.advanceTimersByTimeAsync(2000);
    expect(calls).toBe(3);
    await vi.advanceTimersByTimeAsync(2000);
    expect(calls).toBe(4);
    p.cancel();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls).toBe(4);
  });

  it('poll: cancelling while a call is pending stops the next one', async () => {
    let calls = 0;
    let release: (() => void) | null = null;
    const p = poll(() => {
      calls++;
      return new Promise<void>((r) => (release = r));
    }, 100);
    p.cancel();
    release!();
    await vi.advanceTimersByTimeAsync(1000);
    expect(calls).toBe(1);
  });
});

describe('theme', () => {
  it('follows the setting, or the system for "system"', () => {
    expect(resolveTheme('dark', false)).toBe('dark');
    expect(resolveTheme('light', true)).toBe('light');
    expect(resolveTheme('system', true)).toBe('dark');
    expect(resolveTheme(null, false)).toBe('light');
    const root = { dataset: {} as DOMStringMap };
    applyTheme(root, 'dark');
    expect(root.dataset.theme).toBe('dark');
  });
});
