import { readFileSync } from 'node:fs';
import { ApplicationFailure } from '@temporalio/activity';
import type { MikroORM } from '@mikro-orm/postgresql';
import { msToNumber } from '@temporalio/common/lib/time';
import { emailChannel, webhookChannel, type AlertChannel } from '../alerts/channels';
import { findAlertConditions } from '../alerts/conditions';
import { recordAlerts, sendPendingAlerts, type SendOutcome } from '../alerts/notifier';
import type { Config } from '../config/config';
import type { ResultWorkflows } from '../temporal/result-workflows';

export interface AlertActivityDeps {
  orm: MikroORM;
  /** A file's pending transfer, from Temporal (the Pending page asks the same). */
  workflows: Pick<ResultWorkflows, 'pendingActivities'>;
  alerts: Config['alerts'];
  unfetchedAfterDays: number;
  /** Set when receipts are on (GETRESULTS_ACCESS_LOG). */
  receiptScanInterval?: string;
  /** Where people reach the web page (GETRESULTS_PUBLIC_URL, else the address it listens on), for the links in alerts. */
  linkBase?: string;
  channels: AlertChannel[];
  now?: () => Date;
}

/** The channels the settings ask for; secrets are read from their files here, never logged. */
export function alertChannelsFrom(alerts: Config['alerts']): AlertChannel[] {
  const channels: AlertChannel[] = [];
  if (alerts.email) {
    const password = alerts.email.passwordFile ? readFileSync(alerts.email.passwordFile, 'utf8').trim() : undefined;
    channels.push(emailChannel({ ...alerts.email, password }));
  }
  if (alerts.webhook) channels.push(webhookChannel({ url: alerts.webhook.url, secret: readFileSync(alerts.webhook.secretFile, 'utf8').trim() }));
  return channels;
}

export function createAlertActivities(deps: AlertActivityDeps) {
  const now = deps.now ?? (() => new Date());
  // A scan that has not finished since this process started counts from here, so a restart is no alert of its own.
  const watchingSince = now();
  return {
    /** Finds what needs a person and records each alert once per period; returns how many were found and new. */
    async raiseAlerts(): Promise<{ found: number; raised: number }> {
      const em = deps.orm.em.fork();
      const at = now();
      const conditions = await findAlertConditions(em, {
        now: at,
        transferAttempts: deps.alerts.transferAttempts,
        unfetchedAfterDays: deps.unfetchedAfterDays,
        receiptScan: deps.receiptScanInterval
          ? { intervalMs: msToNumber(deps.receiptScanInterval), missedIntervals: deps.alerts.scanMissedIntervals, watchingSince }
          : undefined,
        digestHour: deps.alerts.digestHour,
        async transferAttemptOf(file) {
          const pending = await deps.workflows.pendingActivities(file).catch(() => []);
          const transfer = pending.find((a) => a.activityType === 'transferFile');
          return transfer && { attempt: transfer.attempt };
        },
      });
      const raised = await recordAlerts(em, conditions, deps.channels, at);
      return { found: conditions.length, raised };
    },

    /**
     * Sends every channel's pending alerts. A channel that refused is recorded (attempts, error) and this activity
     * then fails, so Temporal tries again with backoff; what a channel accepted is not sent twice.
     */
    async sendAlerts(): Promise<SendOutcome[]> {
      const outcomes = await sendPendingAlerts(deps.orm.em.fork(), deps.channels, { linkBase: deps.linkBase, includeFileNames: deps.alerts.includeFileNames }, now);
      const failed = outcomes.filter((o) => !o.sent);
      if (failed.length > 0) {
        throw ApplicationFailure.retryable(`Alerts not delivered: ${failed.map((f) => `${f.channel} (${f.alerts} alert(s)): ${f.error}`).join('; ')}`, 'AlertsNotDelivered');
      }
      return outcomes;
    },
  };
}

export type AlertActivities = ReturnType<typeof createAlertActivities>;
