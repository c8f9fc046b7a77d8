import type { Command } from 'commander';
import { loadConfig } from '../config/config';
import { migrate } from '../db/orm';
import { log, withOrm } from './runtime';

async function commandMigrate(): Promise<void> {
  // Opened unmigrated, so the command can say which migrations it applied.
  await withOrm(loadConfig(), 'getresults migrate', async (orm) => {
    const applied = await migrate(orm);
    log(applied.length ? `Applied migrations: ${applied.join(', ')}` : 'The database is up to date.');
  }, { migrate: false });
}


/** `getresults migrate`: the database schema, brought up to date once before new code runs (docs/deployment.md). */
export function registerMigrateCommand(program: Command): void {
  program.command('migrate').description('Apply database migrations. Needs DATABASE_URL.').action(commandMigrate);
}
