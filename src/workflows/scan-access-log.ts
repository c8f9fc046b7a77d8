import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { LogScanActivities, ScanSummary } from '../activities/log-scan-activities';

const { scanAccessLogOnce } = proxyActivities<LogScanActivities>({
  // A large backlog is read in chunks with a heartbeat each; the timeout only bounds one whole scan.
  startToCloseTimeout: '1h',
  heartbeatTimeout: '2m',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 5 },
});

/** One scan of server B's access log, run by the Temporal Schedule `getresults-log-scan`. */
export async function scanAccessLog(): Promise<ScanSummary> {
  const { workflowId, runId } = workflowInfo();
  return scanAccessLogOnce({ workflowId, runId });
}
