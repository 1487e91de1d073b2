import { describe, expect, it } from 'vitest';
import {
  baseName,
  errorMessage,
  formatBytes,
  formatCompact,
  formatCount,
  formatDuration,
  formatEta,
  formatLoss,
  formatMs,
  formatParams,
  formatPercent,
  formatProgress,
  formatRate,
  formatRatio,
  formatSmall,
  formatStatus,
  shortenMiddle,
} from '../../src/renderer/src/lib/format';

describe('format', () => {
  it('formats sizes in decimal units', () => {
    expect(formatBytes(8_100_000)).toBe('8.1 MB');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1500)).toBe('1.5 kB');
    expect(formatBytes(267_855_000)).toBe('268 MB');
    expect(formatBytes(999_960)).toBe('1.0 MB');
    expect(formatBytes(12_300_000_000)).toBe('12.3 GB');
    expect(formatBytes(null)).toBe('—');
    expect(formatBytes(NaN)).toBe('—');
  });

  it('formats durations with at most two units', () => {
    expect(formatDuration(200)).toBe('3 min 20 s');
    expect(formatDuration(4.25)).toBe('4.3 s');
    expect(formatDuration(4)).toBe('4 s');
    expect(formatDuration(0.01)).toBe('0 s');
    expect(formatDuration(59.6)).toBe('1 min');
    expect(formatDuration(45)).toBe('45 s');
    expect(formatDuration(120)).toBe('2 min');
    expect(formatDuration(3720)).toBe('1 h 2 min');
    expect(formatDuration(3600)).toBe('1 h');
    expect(formatDuration(90_061)).toBe('1 d 1 h');
    expect(formatDuration(-1)).toBe('—');
    expect(formatEta(200)).toBe('about 3 min 20 s left');
    expect(formatEta(null)).toBe('—');
    expect(formatEta(0.2)).toBe('almost done');
  });

  it('formats percentages, counts and parameters', () => {
    expect(formatPercent(0.825)).toBe('82.5 %');
    expect(formatPercent(1)).toBe('100.0 %');
    expect(formatPercent(0.8245, 2)).toBe('82.45 %');
    expect(formatPercent(undefined)).toBe('—');
    expect(formatCount(67_349)).toBe('67,349');
    expect(formatCompact(4_386_178)).toBe('4.4 M');
    expect(formatCompact(66_955_010)).toBe('67 M');
    expect(formatCompact(950)).toBe('950');
    expect(formatCompact(12_345)).toBe('12 k');
    expect(formatCompact(1.2e9)).toBe('1.2 B');
    expect(formatParams(4_386_178)).toBe('4.4 M parameters');
    expect(formatParams(null)).toBe('unknown size');
  });

  it('formats latencies, rates, ratios and small numbers', () => {
    expect(formatMs(0.42)).toBe('0.42 ms');
    expect(formatMs(3.24)).toBe('3.2 ms');
    expect(formatMs(15.4)).toBe('15 ms');
    expect(formatMs(1500)).toBe('1.5 s');
    expect(formatRate(3_200_000, 'bytes')).toBe('3.2 MB/s');
    expect(formatRate(1234.4, 'sentences')).toBe('1,234 sentences/s');
    expect(formatRate(2.34, 'steps')).toBe('2.3 steps/s');
    expect(formatRate(0, 'steps')).toBe('—');
    expect(formatProgress(12_000_000, 255_000_000, 'bytes')).toBe('12.0 MB of 255 MB');
    expect(formatProgress(1024, 67_349, 'sentences')).toBe('1,024 of 67,349 sentences');
    expect(formatRatio(15.26)).toBe('15×');
    expect(formatRatio(2.44)).toBe('2.4×');
    expect(formatRatio(0)).toBe('—');
    expect(formatSmall(3e-4)).toBe('3e-4');
    expect(formatSmall(0.00025)).toBe('2.5e-4');
    expect(formatSmall(0.01)).toBe('0.01');
    expect(formatSmall(0)).toBe('0');
    expect(formatLoss(0.123456)).toBe('0.1235');
    expect(formatLoss(2)).toBe('2');
  });

  it('shortens paths and names statuses', () => {
    expect(shortenMiddle('short')).toBe('short');
    const long = '/home/someone/projects/models/a-very-long-teacher-model-name-indeed';
    const s = shortenMiddle(long, 30);
    expect(s.length).toBe(30);
    expect(s.endsWith('model-name-indeed')).toBe(true);
    expect(baseName('/a/b/c/')).toBe('c');
    expect(baseName('C:\\data\\train.csv')).toBe('train.csv');
    expect(baseName('prajjwal1/bert-tiny')).toBe('bert-tiny');
    expect(formatStatus('early-stopped')).toBe('Stopped early');
    expect(formatStatus('weird')).toBe('weird');
  });

  it('extracts error messages, without the IPC prefix', () => {
    expect(errorMessage(new Error("Error invoking remote method 'data:preview': Error: bad file"))).toBe('bad file');
    expect(errorMessage("Error invoking remote method 'run:start': DatasetError: no rows")).toBe('no rows');
    expect(errorMessage({ message: 'plain object' })).toBe('plain object');
    expect(errorMessage(42)).toBe('42');
  });
});
