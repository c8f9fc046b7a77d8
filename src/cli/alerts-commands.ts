import type { Command } from 'commander';
import { alertChannelsFrom } from '../activities/alert-activities';
import { loadConfig } from '../config/config';
import { log, withOrm } from './runtime';

/** `getresults alerts ...`: what the notifier raised and who was told (src/alerts/), and a test of its channels. */
export function registerAlertsCommands(program: Command): void {
  const alerts = program.command('alerts').description('The notifier: alerts raised, who was told and when, and a test of the e-mail and webhook settings.');
  alerts
    .command('list')
    .description('The latest alerts, each with its deliveries (channel, status, attempts, when sent, last error). Needs DATABASE_URL.')
    .option('--limit <n>', 'how many', '50')
    .action(async (opts: { limit: string }) => {
      const config = loadConfig();
      await withOrm(config, 'getresults alerts list', async (orm) => {
        const rows = await orm.em.fork().getConnection().execute<
          Array<{ id: string; kind: string; period: string; raised_at: Date; summary: string; deliveries: Array<{ channel: string; status: string; attempts: number; sent_at: string | null; last_error: string | null }> | null }>
        >(
          `select a.id, a.kind, a.period, a.raised_at, a.summary,
                  (select json_agg(json_build_object('channel', d.channel, 'status', d.status, 'attempts', d.attempts, 'sent_at', d.sent_at, 'last_error', d.last_error) order by d.channel)
                     from alert_delivery d where d.alert_id = a.id) as deliveries
             from alert a order by a.id desc limit ?`,
          [Math.max(1, Number(opts.limit) || 50)],
        );
        if (rows.length === 0) log('No alerts have been raised.');
        for (const r of rows) {
          const told = (r.deliveries ?? []).map((d) => `${d.channel} ${d.status}${d.sent_at ? ` ${new Date(d.sent_at).toISOString()}` : ''} (${d.attempts} attempt(s)${d.last_error ? `; last error: ${d.last_error}` : ''})`);
          process.stdout.write(`#${r.id} ${new Date(r.raised_at).toISOString()} ${r.kind} [${r.period}] ${r.summary}\n    told: ${told.length > 0 ? told.join('; ') : 'nobody (no channel was set)'}\n`);
        }
      });
    });
  alerts
    .command('test')
    .description('Send a test message through each configured channel (e-mail, webhook) and say what each answered. Records nothing.')
    .action(async () => {
      const config = loadConfig();
      const channels = alertChannelsFrom(config.alerts);
      if (channels.length === 0) {
        log('No alert channel is set: set GETRESULTS_ALERT_SMTP_URL and GETRESULTS_ALERT_EMAIL_TO, or GETRESULTS_ALERT_WEBHOOK_URL and GETRESULTS_ALERT_WEBHOOK_SECRET_FILE.');
        process.exitCode = 2;
        return;
      }
      const sentAt = new Date().toISOString();
      for (const channel of channels) {
        try {
          const receipt = await channel.send({
            subject: '[getresults] test message',
            text: `This is a test of getresults-distribute's alerts, sent ${sentAt}. Alerts will come this way.`,
            json: { version: 1, sentAt, alerts: [] },
          });
          log(`${channel.name} to ${channel.recipient}: accepted (${receipt}).`);
        } catch (err) {
          log(`${channel.name} to ${channel.recipient}: NOT delivered: ${(err as Error).message}`);
          process.exitCode = 1;
        } finally {
          channel.close();
        }
      }
    });
}
