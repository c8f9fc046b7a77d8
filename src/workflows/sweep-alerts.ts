import { proxyActivities } from '@temporalio/workflow';
import type { AlertActivities } from '../activities/alert-activities';

const { raiseAlerts } = proxyActivities<AlertActivities>({
  startToCloseTimeout: '5m',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 5 },
});

// A mail server that is down is tried a few times here, then again at the next sweep: its alerts stay pending.
const { sendAlerts } = proxyActivities<AlertActivities>({
  startToCloseTimeout: '5m',
  retry: { initialInterval: '10s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 3 },
});

/**
 * One sweep of the notifier (src/alerts/), run by the Temporal Schedule `getresults-alerts`: record what needs a
 * person, then tell the channels. Every alert is deduplicated in the database, so a sweep repeated is harmless.
 */
export async function sweepAlerts(): Promise<{ found: number; raised: number; sent: number }> {
  const { found, raised } = await raiseAlerts();
  const outcomes = await sendAlerts();
  return { found, raised, sent: outcomes.reduce((n, o) => n + o.alerts, 0) };
}
