// distill-studio doctor: the hardware and the execution-provider decision, with reasons.
import os from 'node:os';
import { chooseProvider, providerAvailability } from '../runtime/providers';

export async function doctorCommand(o: { json?: boolean }): Promise<number> {
  const availability = providerAvailability();
  const choice = await chooseProvider('auto', { fallback: true });
  const report = {
    platform: `${process.platform}-${process.arch}`,
    cpu: { model: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length },
    memory_gb: Math.round(os.totalmem() / 2 ** 30),
    providers: availability,
    decision: { provider: choice.provider, reasons: choice.reasons },
  };
  if (o.json) process.stdout.write(JSON.stringify(report, null, 1) + '\n');
  else {
    process.stdout.write(`CPU: ${report.cpu.model} (${report.cpu.cores} cores), ${report.memory_gb} GB memory, ${report.platform}\n`);
    for (const p of Object.values(availability)) process.stdout.write(`${p.provider}: ${p.available ? 'available' : 'not available'} — ${p.reason}\n`);
    process.stdout.write(`Decision: ${choice.provider}\n${choice.reasons.map((r) => `  - ${r}`).join('\n')}\n`);
  }
  return 0;
}
