import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type ScheduleClient } from '@temporalio/client';
import { SHARED_TASK_QUEUE } from '../workflows/definitions';
import { LOG_SCAN_SCHEDULE_ID, LOG_SCAN_WORKFLOW_ID, WORKFLOW_TYPES } from '../workflows/names';

/**
 * Creates the log-scan Schedule, or brings an existing one in line with `interval`: safe to run at every start.
 * Overlap policy SKIP: a scan still reading a large backlog is never doubled up.
 */
export async function ensureLogScanSchedule(schedules: ScheduleClient, interval: string): Promise<'created' | 'updated'> {
  const action = {
    type: 'startWorkflow' as const,
    workflowType: WORKFLOW_TYPES.scanAccessLog,
    taskQueue: SHARED_TASK_QUEUE,
    workflowId: LOG_SCAN_WORKFLOW_ID,
    args: [] as [],
  };
  const spec = { intervals: [{ every: interval as `${number}m` }] };
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1m' as const };
  try {
    await schedules.create({ scheduleId: LOG_SCAN_SCHEDULE_ID, spec, action, policies, memo: { purpose: 'Proof of receipt: scan server B\'s access log' } });
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  await schedules.getHandle(LOG_SCAN_SCHEDULE_ID).update((previous) => ({ ...previous, spec, action, policies }));
  return 'updated';
}
