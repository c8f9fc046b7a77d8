import type { FileState } from '../../domain/file-state';

/** What each state means to a technician, in plain words. */
export const STATE_WORDS: Record<FileState, { label: string; meaning: string; tone: 'ok' | 'wait' | 'bad' | 'info' }> = {
  RECEIVED: { label: 'Received', meaning: 'Picked up from the upload folder; being checked and sent.', tone: 'info' },
  REJECTED: { label: 'Rejected', meaning: 'Failed the checks; kept in the rejected folder and not sent.', tone: 'bad' },
  NEEDS_FOLDER: {
    label: 'Needs folder',
    meaning: 'Valid, but no clinic folder is set up for it. Add the folder on the Remote folders page, then press Retry.',
    tone: 'wait',
  },
  TRANSFER_BLOCKED: {
    label: 'Transfer blocked',
    meaning: 'The clinic server refused our key or login. An operator must fix it; it also retries by itself now and then.',
    tone: 'wait',
  },
  SENT: { label: 'Sent', meaning: 'A verified copy is in the clinic folder.', tone: 'ok' },
  AWAITING_ACK: { label: 'Awaiting pick-up', meaning: 'Sent and archived; waiting for the clinic to fetch it.', tone: 'ok' },
  ACKNOWLEDGED: { label: 'Acknowledged', meaning: 'The clinic fetched the file.', tone: 'ok' },
  UNACKNOWLEDGED: { label: 'Not picked up', meaning: 'Sent, but nobody fetched it within the waiting time.', tone: 'bad' },
  DUPLICATE: { label: 'Duplicate', meaning: 'Same content as a file already received; set aside, not sent again.', tone: 'info' },
  SUPERSEDED: { label: 'Superseded', meaning: 'The file changed after pick-up; the newer content was handled on its own.', tone: 'info' },
};

export const WAITING_STATES: FileState[] = ['NEEDS_FOLDER', 'TRANSFER_BLOCKED'];
/** States in which a person may confirm "checked and sent". */
export const AUDITABLE_STATES: FileState[] = ['SENT', 'AWAITING_ACK', 'ACKNOWLEDGED', 'UNACKNOWLEDGED'];
