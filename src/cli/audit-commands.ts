import type { Command } from 'commander';
import { verifyChain, type ChainReport } from '../db/audit-chain';
import { loadConfig } from '../config/config';
import { withOrm } from './runtime';

function describe(report: ChainReport): string {
  const head = report.head ? `; last intact event #${report.head.id} (seq ${report.head.seq}), hash ${report.head.hash}` : '';
  const brk = report.firstBreak;
  if (!brk) return `Audit trail intact: ${report.checked} event(s) checked${head}.\n`;
  return [
    `Audit trail BROKEN at event #${brk.id} (seq ${brk.seq}, file #${brk.resultFileId}): ${brk.explanation}`,
    `  ${brk.kind === 'content' ? 'hash' : 'prev_hash'} expected: ${brk.expected}`,
    `  ${brk.kind === 'content' ? 'hash' : 'prev_hash'} stored:   ${brk.stored}`,
    `  ${report.checked} event(s) checked${head}.`,
    '',
  ].join('\n');
}

async function commandVerify(opts: { json?: boolean }): Promise<void> {
  // Read-only: no migrations run here; an unmigrated database is reported, not changed.
  await withOrm(loadConfig(), 'getresults audit verify', async (orm) => {
    const em = orm.em.fork();
    const [chained] = await em.execute<Array<{ n: number }>>(
      `select count(*)::int as n from information_schema.columns where table_name = 'file_event' and column_name = 'hash'`,
    );
    if (!chained?.n) throw new Error('The event trail has no hash chain yet: run "getresults migrate" first.');
    const report = await verifyChain(em);
    process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : describe(report));
    if (!report.ok) process.exitCode = 1;
  }, { migrate: false });
}

/** `getresults audit ...`: checks on the tamper-evident event trail. */
export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('The tamper-evident event trail (hash chain over file_event). Needs DATABASE_URL.');
  audit
    .command('verify')
    .description('Walk the whole event chain and report the first broken link (edited, deleted or re-ordered event); exit 1 if broken.')
    .option('--json', 'print the report as JSON')
    .action(commandVerify);
}
