import type { FileState } from '../../domain/file-state';

/**
 * What each state means to a technician, in plain words. One word for one thing on every page (issue 12): a file is
 * "received" (we have it), "sent" (a verified copy is at server B), "fetched" (the clinic downloaded it). The upload
 * folder's watcher "takes" files; nothing is called "picked up". Each meaning says what happens next, once.
 */
export const STATE_WORDS: Record<FileState, { label: string; meaning: string; tone: 'ok' | 'wait' | 'bad' | 'info' }> = {
  RECEIVED: { label: 'Received', meaning: 'Taken from the upload folder; being checked and sent.', tone: 'info' },
  REJECTED: {
    label: 'Rejected',
    meaning: 'Failed the checks, so it was not sent; it is kept in the rejected folder. Fix what the reason says and upload it again.',
    tone: 'bad',
  },
  NEEDS_FOLDER: {
    label: 'Needs a clinic folder',
    meaning: 'Valid, but no clinic folder is set up for its clinic hint. Ask an admin to add the folder: the file is then sent by itself.',
    tone: 'wait',
  },
  TRANSFER_BLOCKED: {
    label: 'Transfer blocked',
    meaning: 'Server B refused our key or login. Ask an admin to fix it: the file keeps being tried by itself and is sent once it goes through.',
    tone: 'wait',
  },
  SENT: { label: 'Sent', meaning: 'A verified copy is in the clinic folder on server B.', tone: 'ok' },
  AWAITING_ACK: { label: 'Sent, not yet fetched', meaning: 'At server B and archived here; waiting for the clinic to fetch it.', tone: 'ok' },
  ACKNOWLEDGED: { label: 'Fetched', meaning: 'The clinic downloaded the file (seen in server B\'s access log).', tone: 'ok' },
  UNACKNOWLEDGED: { label: 'Not fetched in time', meaning: 'Sent, but the clinic did not fetch it within the waiting time. Call the clinic.', tone: 'bad' },
  DUPLICATE: { label: 'Duplicate', meaning: 'Same content as a file already received; set aside, not sent again.', tone: 'info' },
  SUPERSEDED: { label: 'Superseded', meaning: 'The file changed after it was taken; the newer content was handled on its own.', tone: 'info' },
  WITHDRAWN: {
    label: 'Withdrawn',
    meaning: 'Taken back from the clinic folder by a person (the reason is below); kept aside on server B, and a later fetch no longer counts.',
    tone: 'info',
  },
};

/** States that wait for a person, counted in the dashboard's "needs a person" banner (with recent rejections). */
export const WAITING_STATES: FileState[] = ['NEEDS_FOLDER', 'TRANSFER_BLOCKED'];
/** States whose reason the file list shows in its own column. */
export const STATES_WITH_REASON: FileState[] = ['REJECTED', 'NEEDS_FOLDER', 'TRANSFER_BLOCKED', 'UNACKNOWLEDGED', 'SUPERSEDED', 'WITHDRAWN'];
/** States in which a person may confirm "checked and sent". */
export const AUDITABLE_STATES: FileState[] = ['SENT', 'AWAITING_ACK', 'ACKNOWLEDGED', 'UNACKNOWLEDGED'];
