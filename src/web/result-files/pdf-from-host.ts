import type { EntityManager } from '@mikro-orm/postgresql';
import { randomUUID } from 'node:crypto';
import { sweepHandovers, takeHandover } from '../../labs/file-handover';
import type { ResultWorkflows } from '../../temporal/result-workflows';
import { fileTaskQueueFor } from '../../workflows/definitions';

/** How long the page waits for a host to hand over a PDF before saying it did not answer. */
export const HOST_ANSWER_TIMEOUT_MS = 30_000;

export type PdfFromHost = { ok: true; content: Buffer } | { ok: false; status: 404 | 409 | 413 | 503 | 504; title: string; problem: string };

/**
 * The archived PDF of a file held by another upload host (issue 13), for a web page that is not beside it: the host's
 * own worker reads it from its archive and hands it over through the database (src/workflows/host-handover.ts).
 * Every way it can fail is said in words a technician can act on.
 */
export async function pdfFromHost(
  em: EntityManager,
  workflows: ResultWorkflows | undefined,
  file: { id: number; uploadHost: string },
  waitMs = HOST_ANSWER_TIMEOUT_MS,
): Promise<PdfFromHost> {
  const host = file.uploadHost;
  if (!workflows) {
    return { ok: false, status: 503, title: 'PDF unavailable', problem: `The PDF is kept by the upload host ${host}, and this web page has no connection to Temporal to ask it.` };
  }
  const queue = fileTaskQueueFor(host);
  if (!(await workflows.isQueueServed(queue))) {
    return {
      ok: false,
      status: 503,
      title: 'Host offline',
      problem: `The PDF is kept by the upload host ${host}, which is offline: none of its workers has asked for work in the last two minutes. It shows here once ${host} is back.`,
    };
  }
  await sweepHandovers(em);
  const handoverId = randomUUID();
  const answer = await workflows.fetchArchivedPdf(queue, { handoverId, resultFileId: file.id }, waitMs);
  switch (answer.outcome) {
    case 'handed-over': {
      const handover = await takeHandover(em, handoverId, 'to-web');
      if (handover?.resultFileId === file.id) return { ok: true, content: handover.content };
      return { ok: false, status: 504, title: 'PDF not received', problem: `The upload host ${host} said it handed the PDF over, but it was not there. Open it again.` };
    }
    case 'missing':
      return { ok: false, status: 404, title: 'PDF not found', problem: `The upload host ${host} has no archived copy of this file where its record says (it may have been pruned or moved).` };
    case 'too-large':
      return { ok: false, status: 413, title: 'PDF too large', problem: `The archived copy on ${host} is larger than the largest file this deployment takes, so it is not sent over.` };
    case 'changed':
      return {
        ok: false,
        status: 409,
        title: 'PDF changed',
        problem: `The archived copy on ${host} is not the content this file's record holds (its SHA-256 differs), so it is not shown. Tell whoever looks after ${host}.`,
      };
    case 'failed':
      return { ok: false, status: 503, title: 'PDF unavailable', problem: `The upload host ${host} could not read the PDF; its worker's log says why. Try again in a minute.` };
    case 'no-answer':
      return { ok: false, status: 504, title: 'Host did not answer', problem: `The upload host ${host} did not hand the PDF over within ${Math.round(waitMs / 1000)} seconds. Try again in a minute.` };
  }
}
