/**
 * The `getresults` command: one file per command (or per group of commands) beside this one, each registering
 * itself; the long-running ones compose the parts in process-parts.ts.
 */
import { Command } from 'commander';
import { SETTINGS_DOC } from '../config/config';
import { useLogFormat } from '../observability/logger';
import { registerAlertsCommands } from './alerts-commands';
import { registerArchiveCommands } from './archive-commands';
import { registerAuditCommands } from './audit-commands';
import { registerBackupCommands } from './backup-commands';
import { registerFoldersCommands } from './folders-commands';
import { registerHostsCommands } from './hosts-commands';
import { registerLabsCommands } from './labs-commands';
import { registerMigrateCommand } from './migrate-command';
import { registerOfflineCommands } from './offline-commands';
import { registerParseLogCommand } from './parse-log-command';
import { registerRetryCommand } from './retry-command';
import { registerScheduleCommand } from './schedule-command';
import { registerServerBCommands } from './serverb-commands';
import { registerStartCommand } from './start-command';
import { registerUsersCommands } from './users-commands';
import { registerWatchCommand } from './watch-command';
import { registerWebCommand } from './web-command';
import { registerWorkerCommand } from './worker-command';

export function buildProgram(): Command {
  const program = new Command('getresults')
    .description('Delivers laboratory result PDFs to clinic folders over SSH, one durable Temporal workflow per file, and proves receipt.')
    .showHelpAfterError()
    .addHelpText(
      'after',
      `\nConfiguration comes from environment variables (see README):\n${SETTINGS_DOC.map((s) => `  ${s.name}`).join('\n')}`,
    );
  registerStartCommand(program);
  registerWorkerCommand(program);
  registerWatchCommand(program);
  registerWebCommand(program);
  registerMigrateCommand(program);
  registerScheduleCommand(program);
  registerRetryCommand(program);
  registerOfflineCommands(program, registerFoldersCommands(program));
  registerUsersCommands(program);
  registerLabsCommands(program);
  registerHostsCommands(program);
  registerAlertsCommands(program);
  registerBackupCommands(program);
  registerArchiveCommands(program);
  registerServerBCommands(program);
  registerParseLogCommand(program);
  registerAuditCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  // An explicit GETRESULTS_LOG_FORMAT applies to every command (the long-running ones set their own default).
  const format = process.env.GETRESULTS_LOG_FORMAT;
  if (format === 'json' || format === 'text') useLogFormat(argv[2] ?? 'getresults', format);
  await buildProgram().parseAsync(argv);
}
