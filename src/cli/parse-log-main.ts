/**
 * The entry of `getresults parse-log` alone: bin/getresults.js sends that command here, because the full CLI loads
 * Temporal, MikroORM and Hono, which takes longer than scanning a large log does. main.ts registers the same command
 * (parse-log-command.ts), so `getresults --help` lists it. Also run directly by the benchmark:
 * `node dist/cli/parse-log-main.js parse-log <file> [--json]`.
 */
import { Command } from 'commander';
import { registerParseLogCommand } from './parse-log-command';

export async function main(argv: readonly string[]): Promise<void> {
  const program = new Command('getresults').description('Receipt log tools');
  registerParseLogCommand(program);
  await program.parseAsync([...argv]);
}

if (require.main === module) {
  main(process.argv).catch((err: unknown) => {
    // `parse-log ... | head`: the reader has all it wanted.
    if ((err as NodeJS.ErrnoException | undefined)?.code === 'EPIPE') return;
    process.stderr.write(`getresults: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
