import type { ResultWorkflows } from '../../src/temporal/result-workflows';

/**
 * ResultWorkflows for tests that check what the code does around Temporal, not Temporal itself (that is
 * test/temporal/result-workflows.test.ts and the e2e suite): the given operations, and a loud failure for any other.
 */
export function fakeWorkflows(operations: Partial<ResultWorkflows>): ResultWorkflows {
  const unexpected = (name: string) => async (): Promise<never> => {
    throw new Error(`This test did not expect ResultWorkflows.${name} to be called.`);
  };
  return {
    submitFile: unexpected('submitFile'),
    announceCopy: unexpected('announceCopy'),
    retry: unexpected('retry'),
    deliverReceipt: unexpected('deliverReceipt'),
    startResend: unexpected('startResend'),
    startWithdraw: unexpected('startWithdraw'),
    awaitWithdraw: unexpected('awaitWithdraw'),
    ensureLogScanSchedule: unexpected('ensureLogScanSchedule'),
    ensureAlertSchedule: unexpected('ensureAlertSchedule'),
    pendingActivities: unexpected('pendingActivities'),
    checkHealth: unexpected('checkHealth'),
    isQueueServed: unexpected('isQueueServed'),
    fetchArchivedPdf: unexpected('fetchArchivedPdf'),
    placeWebUpload: unexpected('placeWebUpload'),
    ...operations,
  };
}
