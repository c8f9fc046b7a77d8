import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type ScheduleClient } from '@temporalio/client';
import { SHARED_TASK_QUEUE } from '../workflows/definitions';
import { ALERT_SCHEDULE_ID, ALERT_SWEEP_WORKFLOW_ID, LOG_SCAN_SCHEDULE_ID, LOG_SCAN_WORKFLOW_ID, WORKFLOW_TYPES } from '../workflows/names';

interface RecurringWorkflow {
  scheduleId: string;
  workflowType: string;
  workflowId: string;
  purpose: string;
}

/**
 * Creates a Schedule, or brings an existing one in line with `interval`: safe to run at every start. Overlap policy
 * SKIP: a run still busy (a scan reading a large backlog) is never doubled up.
 */
async function ensureRecurring(schedules: ScheduleClient, recurring: RecurringWorkflow, interval: string): Promise<'created' | 'updated'> {
  const action = {
    type: 'startWorkflow' as const,
    workflowType: recurring.workflowType,
    taskQueue: SHARED_TASK_QUEUE,
    workflowId: recurring.workflowId,
    args: [] as [],
  };
  const spec = { intervals: [{ every: interval as `${number}m` }] };
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1m' as const };
  try {
    await schedules.create({ scheduleId: recurring.scheduleId, spec, action, policies, memo: { purpose: recurring.purpose } });
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  await schedules.getHandle(recurring.scheduleId).update((previous) => ({ ...previous, spec, action, policies }));
  return 'updated';
}

/** The receipt scan of server B's access log. */
export function ensureLogScanSchedule(schedules: ScheduleClient, interval: string): Promise<'created' | 'updated'> {
  return ensureRecurring(
    schedules,
    { scheduleId: LOG_SCAN_SCHEDULE_ID, workflowType: WORKFLOW_TYPES.scanAccessLog, workflowId: LOG_SCAN_WORKFLOW_ID, purpose: 'Proof of receipt: scan server B\'s access log' },
    interval,
  );
}

/** The notifier's sweep (src/alerts/). */
export function ensureAlertSchedule(schedules: ScheduleClient, interval: string): Promise<'created' | 'updated'> {
  return ensureRecurring(
    schedules,
    { scheduleId: ALERT_SCHEDULE_ID, workflowType: WORKFLOW_TYPES.sweepAlerts, workflowId: ALERT_SWEEP_WORKFLOW_ID, purpose: 'Alerts: tell people what needs them' },
    interval,
  );
}
