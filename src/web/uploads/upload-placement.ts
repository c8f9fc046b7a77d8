import type { EntityManager } from '@mikro-orm/postgresql';
import { randomUUID } from 'node:crypto';
import { readFile, unlink } from 'node:fs/promises';
import { putHandover, withdrawUpload } from '../../labs/file-handover';
import type { FileHost } from '../../labs/upload-hosts';
import type { ResultWorkflows } from '../../temporal/result-workflows';
import { fileTaskQueueFor } from '../../workflows/definitions';
import { HOST_ANSWER_TIMEOUT_MS } from '../result-files/pdf-from-host';
import { commitStaged } from '../../disk/staged-upload';

export type Placed = { stored: true; warning?: string } | { stored: false; problem: string };

/** A received upload, staged whole on this machine (receive-upload.ts). */
export interface StagedUpload {
  tempPath: string;
  name: string;
  sha256: string;
}

/**
 * Where the web page's uploads go (issue 13): the upload folder of one upload host, whose lab they then belong to.
 * Beside that host (the usual case) the page writes the folder itself; a page elsewhere hands each upload to the
 * host's worker (src/workflows/host-handover.ts), which writes it there.
 */
export interface UploadPlacement {
  /** The host whose upload folder receives the uploads. */
  host?: FileHost;
  /** Where uploads are staged while they arrive (the upload folder itself, beside the host). */
  stagingDir: string;
  /** Why no upload can be taken now (its host is offline), asked before a byte is read; undefined when it can. */
  unavailable(): Promise<string | undefined>;
  place(em: EntityManager, upload: StagedUpload): Promise<Placed>;
}

const NAME_WAITING = 'A file of this name is still waiting in the upload folder; it was not replaced. Try again in a minute.';

/** Beside the host: a hard link gives the staged file its name in the folder the watcher watches (commitStaged). */
export function placeInOwnFolder(uploadDir: string, host?: FileHost): UploadPlacement {
  return {
    host,
    stagingDir: uploadDir,
    unavailable: async () => undefined,
    async place(_em, upload) {
      const result = await commitStaged(uploadDir, upload.tempPath, upload.name);
      return result.stored ? { stored: true } : { stored: false, problem: NAME_WAITING };
    },
  };
}

/**
 * Elsewhere: the staged bytes go into the database, and the host's worker takes them into its upload folder. When the
 * host does not answer in time the page withdraws the upload; if the host had taken it already, it is placed, and the
 * page says so rather than "not saved" (claimUpload and withdrawUpload, src/labs/file-handover.ts).
 */
export function placeOnHost(options: { workflows: ResultWorkflows; host: FileHost; stagingDir: string; waitMs?: number }): UploadPlacement {
  const { workflows, host } = options;
  const queue = fileTaskQueueFor(host.name);
  const waitMs = options.waitMs ?? HOST_ANSWER_TIMEOUT_MS;
  return {
    host,
    stagingDir: options.stagingDir,
    async unavailable() {
      return (await workflows.isQueueServed(queue))
        ? undefined
        : `Uploads on this page go to the upload host ${host.name}, which is offline: none of its workers has asked for work in the last two minutes. Nothing was saved; upload again once it is back, or drop the files in its upload folder.`;
    },
    async place(em, upload) {
      const handoverId = randomUUID();
      try {
        await putHandover(em, { id: handoverId, direction: 'to-host', fileName: upload.name, sha256: upload.sha256, content: await readFile(upload.tempPath) });
      } finally {
        await unlink(upload.tempPath).catch(() => undefined);
      }
      const answer = await workflows.placeWebUpload(queue, { handoverId }, waitMs);
      switch (answer.outcome) {
        case 'placed':
          return { stored: true };
        case 'name-taken':
          return { stored: false, problem: NAME_WAITING };
        case 'withdrawn':
          return { stored: false, problem: `The upload host ${host.name} did not take it; nothing was saved. Upload it again.` };
        case 'failed':
        case 'no-answer':
          if (await withdrawUpload(em, handoverId)) {
            return { stored: false, problem: `The upload host ${host.name} did not take it within ${Math.round(waitMs / 1000)} seconds; nothing was saved. Upload it again in a minute.` };
          }
          return { stored: true, warning: `The upload host ${host.name} took it but has not yet confirmed; it shows on Files once its folder has it.` };
      }
    },
  };
}
