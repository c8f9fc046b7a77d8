/**
 * Stand-alone entry for `parse-log` alone (benchmarks, and use before the main CLI mounts the command):
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
