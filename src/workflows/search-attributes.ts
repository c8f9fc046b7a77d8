/**
 * The search attributes operators filter our workflows by in the Temporal UI (docs/deployment.md, "Finding files in
 * the Temporal UI"). Workflow code upserts them, clients set them at start, and `start`, the test harness and
 * docker-compose.temporal.yml register them, all from this one list.
 *
 * Never a file name or a patient identifier: only the state's name, the lab's and the host's names, and the
 * database id (which the web page's /files/<id> opens, behind login).
 */
import { defineSearchAttributeKey } from '@temporalio/common/lib/search-attributes';

/** The file's state as the workflow last reached a waiting or final one (a FileState name, e.g. TRANSFER_BLOCKED). */
export const FILE_STATE_KEY = defineSearchAttributeKey('GetresultsState', 'KEYWORD');
/** The lab whose upload host holds the file (`lab.name`, GETRESULTS_LAB). */
export const LAB_KEY = defineSearchAttributeKey('GetresultsLab', 'KEYWORD');
/** The upload host that holds the file (GETRESULTS_HOST_ID). */
export const UPLOAD_HOST_KEY = defineSearchAttributeKey('GetresultsHost', 'KEYWORD');
/** `result_file.id`, known once the first step has registered the upload. */
export const FILE_ID_KEY = defineSearchAttributeKey('GetresultsFileId', 'INT');

/** Every attribute with the type name `temporal operator search-attribute create --type` and `start-dev` take. */
export const SEARCH_ATTRIBUTE_REGISTRATIONS: Readonly<Record<string, 'Keyword' | 'Int'>> = {
  [FILE_STATE_KEY.name]: 'Keyword',
  [LAB_KEY.name]: 'Keyword',
  [UPLOAD_HOST_KEY.name]: 'Keyword',
  [FILE_ID_KEY.name]: 'Int',
};
