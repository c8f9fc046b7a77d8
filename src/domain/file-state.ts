/**
 * The states a result file moves through. Shared by the workflow (pure), the database and the web page, so it
 * holds no imports.
 */
export const FILE_STATES = [
  // In our hands and on its way to server B: picked up and being checked, routed and sent. A file that waited
  // (NEEDS_FOLDER, TRANSFER_BLOCKED) and goes on is RECEIVED again; routing is an event (ROUTED), not a state.
  'RECEIVED',
  'REJECTED', // failed validation; kept in the rejected folder with its reason
  'NEEDS_FOLDER', // valid, but no clinic folder is mapped for its hint; waits for the mapping
  'TRANSFER_BLOCKED', // server B's host key or login was refused; waits for an operator
  'SENT', // verified copy is at the clinic folder on server B
  'AWAITING_ACK', // sent and archived; waiting for the clinic to fetch it
  'ACKNOWLEDGED', // server B's access log shows the clinic fetched it
  'UNACKNOWLEDGED', // nobody fetched it within the acknowledgement timeout
  'DUPLICATE', // same content as a file already delivered; set aside, not sent again
  'SUPERSEDED', // the file changed after pick-up; the newer content has its own workflow
  'WITHDRAWN', // taken back from the clinic folder by a person, with a reason (moved aside on server B); final
] as const;

export type FileState = (typeof FILE_STATES)[number];

/** States after which the workflow has finished its work for this upload. */
export const FINAL_STATES: readonly FileState[] = ['REJECTED', 'ACKNOWLEDGED', 'UNACKNOWLEDGED', 'DUPLICATE', 'SUPERSEDED', 'WITHDRAWN'];
