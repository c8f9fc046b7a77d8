import type { Command } from 'commander';
import { loadConfig } from '../config/config';
import { migrate, openOrm } from '../db/orm';
import { log, requireDatabaseUrl } from './runtime';

async function commandMigrate(): Promise<void> {
  const config = loadConfig();
  const orm = await openOrm(requireDatabaseUrl(config, 'getresults migrate'));
  try {
    const applied = await migrate(orm);
    log(applied.length ? `Applied migrations: ${applied.join(', ')}` : 'The database is up to date.');
  } finally {
    await orm.close();
  }
}


/** `getresults migrate`: the database schema, brought up to date once before new code runs (docs/deployment.md). */
export function registerMigrateCommand(program: Command): void {
  program.command('migrate').description('Apply database migrations. Needs DATABASE_URL.').action(commandMigrate);
}
