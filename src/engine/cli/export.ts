// distill-studio export: the best model of a run in the chosen format, verified.
import { exportRun } from '../pipeline/export-run';
import { formatBytes, formatPercent } from '../../shared/format';

export async function exportCommand(o: { run: string; format: 'onnx' | 'onnx-int8' | 'hf'; out: string; json?: boolean; force?: boolean }): Promise<number> {
  const r = await exportRun({ run: o.run, format: o.format, out: o.out, overwrite: Boolean(o.force) });
  if (o.json) process.stdout.write(JSON.stringify(r) + '\n');
  else {
    const v = r.verification;
    process.stdout.write(
      `Wrote ${r.path} (${formatBytes(r.bytes)}). On ${v.sentences} validation sentences: ` +
        (v.identicalPredictions ? 'predictions identical to the trained model' : `agreement with the trained model ${formatPercent(v.agreementWithTrained, 2)}`) +
        (v.accuracy !== null ? `, accuracy ${formatPercent(v.accuracy, 2)}` : '') +
        '.\n',
    );
  }
  return 0;
}
