// distill-studio doctor: the hardware found and the execution-provider decision, with reasons.
import { doctorReport } from '../hardware/decide';
import { defaultCacheDir } from '../pipeline/sources';

export async function doctorCommand(o: { json?: boolean }): Promise<number> {
  const report = await doctorReport({ dataDir: defaultCacheDir() });
  if (o.json) {
    const { hardware, availability, gpuPack, decision } = report;
    process.stdout.write(
      JSON.stringify({ hardware, availability, gpuPack, decision: { ...decision, failure: decision.failure && { provider: decision.failure.provider, message: decision.failure.error.message } } }, null, 1) + '\n',
    );
  } else process.stdout.write(report.text + '\n');
  return 0;
}
