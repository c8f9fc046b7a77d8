import type { Command } from 'commander';
import { loadConfig } from '../config/config';
import { applyPrune, planPrune } from '../disk/retention';
import { log, withDatabase, withOrm } from './runtime';

/** `getresults archive prune`: the retention policy for the PDFs this upload host keeps (src/disk/retention.ts). */
export function registerArchiveCommands(program: Command): void {
  const archive = program.command('archive').description('The PDFs this upload host keeps: archived originals, rejected and set-aside copies.');
  archive
    .command('prune')
    .description('Remove the kept PDFs of finished files uploaded more than N years ago; each removal is recorded in the file\'s trail, and every record stays. A dry run unless --apply.')
    .requiredOption('--keep-years <n>', 'keep files uploaded within this many years')
    .option('--apply', 'remove them (without it, only say what would be removed)')
    .option('--actor <name>', 'who is pruning, for the trail', process.env.SUDO_USER ?? process.env.USER ?? 'operator')
    .action(async (opts: { keepYears: string; apply?: boolean; actor: string }) => {
      const config = loadConfig();
      await withDatabase(config, async (url) => {
        await withOrm(config, 'getresults archive prune', async (orm) => {
          const plan = await planPrune(orm.em.fork(), { keepYears: Number(opts.keepYears), roots: [config.archiveDir, config.rejectedDir, config.duplicatesDir] });
          const day = (d: Date) => d.toISOString().slice(0, 10);
          if (plan.files.length === 0) {
            log(`Nothing to prune: no finished file kept on this host was uploaded before ${day(plan.cutoff)} (keep ${plan.keepYears} year(s)).`);
            return;
          }
          const range = `uploaded ${day(plan.files[0]!.uploadedAt)} to ${day(plan.files.at(-1)!.uploadedAt)}`;
          if (!opts.apply) {
            const ids = plan.files.map((f) => `#${f.id}`);
            log(`Dry run: ${plan.files.length} kept PDF(s) ${range} would be removed (keep ${plan.keepYears} year(s)): ${ids.slice(0, 20).join(', ')}${ids.length > 20 ? ', ...' : ''}. Run again with --apply to remove them; their records stay.`);
            return;
          }
          const { pruned, alreadyGone } = await applyPrune(orm.em.fork(), plan, opts.actor);
          log(`Pruned ${pruned} kept PDF(s) ${range}${alreadyGone ? ` (${alreadyGone} more were already gone)` : ''}; each file's trail records it (ARCHIVE_PRUNED).`);
        }, { url });
      });
    });
}
