import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { SHARED_TASK_QUEUE } from '../workflows/definitions';

export const LOG_SCAN_SCHEDULE_ID = 'getresults-log-scan';

/**
 * Creates the log-scan Schedule, or brings an existing one in line with `interval`: safe to run at every start.
 * Overlap policy SKIP: a scan still reading a large backlog is never doubled up.
 */
export async function ensureLogScanSchedule(client: Client, interval: string): Promise<'created' | 'updated'> {
  const action = {
    type: 'startWorkflow' as const,
    workflowType: 'scanAccessLog',
    taskQueue: SHARED_TASK_QUEUE,
    workflowId: 'log-scan',
    args: [] as [],
  };
  const spec = { intervals: [{ every: interval as `${number}m` }] };
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1m' as const };
  try {
    await client.schedule.create({ scheduleId: LOG_SCAN_SCHEDULE_ID, spec, action, policies, memo: { purpose: 'Proof of receipt: scan server B\'s access log' } });
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  await client.schedule.getHandle(LOG_SCAN_SCHEDULE_ID).update((previous) => ({ ...previous, spec, action, policies }));
  return 'updated';
}
