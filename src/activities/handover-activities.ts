import type { MikroORM } from '@mikro-orm/postgresql';
import { randomBytes } from 'node:crypto';
import { open, readFile, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { ResultFile } from '../db/entities';
import { sha256OfBuffer, sha256OfFile } from '../disk/hash';
import { isInFolderTree } from '../disk/upload-folder';
import { claimUpload, dropHandover, peekUpload, putHandover } from '../labs/file-handover';
import type { FileHost } from '../labs/upload-hosts';
import { checkUploadName, commitStaged } from '../disk/staged-upload';

export interface HandoverActivityDeps {
  orm: MikroORM;
  /** The upload host this worker serves: it hands over its own files only. */
  host: FileHost;
  /** Where this host keeps files (archive, rejected, duplicates): nothing outside them is ever read. */
  keptFileRoots: string[];
  uploadDir: string;
  /** The largest file this host takes (GETRESULTS_MAX_FILE_MB): nothing bigger is handed over either way. */
  maxFileBytes: number;
}

export type ArchivedPdfOutcome =
  | { outcome: 'handed-over'; sizeBytes: number }
  /** No such file on this host, or its archived copy is not where the database says (pruned, moved). */
  | { outcome: 'missing' }
  | { outcome: 'too-large'; sizeBytes: number }
  /** The archived copy's content is not what the file's record says: shown to nobody. */
  | { outcome: 'changed' };

export type WebUploadOutcome =
  | { outcome: 'placed' }
  /** A different file of this name is still waiting in the upload folder: nothing was replaced. */
  | { outcome: 'name-taken' }
  /** The page gave up waiting before the host took the upload (or the handover is not a valid upload): not placed. */
  | { outcome: 'withdrawn' };

/**
 * The activities of src/workflows/host-handover.ts, on the queue of the host whose disk is involved. Their inputs
 * carry a handover id and a file id only: what is read and where it is written come from the database and this
 * host's configuration, never from the message, which anyone reaching Temporal can write.
 */
export function createHandoverActivities(deps: HandoverActivityDeps) {
  const inKeptFolders = async (file: string) => (await Promise.all(deps.keptFileRoots.map((root) => isInFolderTree(root, file)))).some(Boolean);

  return {
    async handOverArchivedPdf(input: { handoverId: string; resultFileId: number }): Promise<ArchivedPdfOutcome> {
      const em = deps.orm.em.fork();
      const row = await em.findOne(ResultFile, { id: input.resultFileId }, { fields: ['fileName', 'archivePath', 'sha256', 'uploadHost'] });
      // Files received before hosts were recorded (null) are this host's if its folders hold them.
      if (!row?.archivePath || (row.uploadHost !== null && row.uploadHost !== undefined && row.uploadHost !== deps.host.name)) return { outcome: 'missing' };
      if (!(await inKeptFolders(row.archivePath))) return { outcome: 'missing' };
      const info = await stat(row.archivePath).catch(() => undefined);
      if (!info?.isFile()) return { outcome: 'missing' };
      if (info.size > deps.maxFileBytes) return { outcome: 'too-large', sizeBytes: info.size };
      const content = await readFile(row.archivePath);
      if (sha256OfBuffer(content) !== row.sha256) return { outcome: 'changed' };
      await putHandover(em, { id: input.handoverId, direction: 'to-web', resultFileId: input.resultFileId, fileName: row.fileName, sha256: row.sha256, content });
      return { outcome: 'handed-over', sizeBytes: content.length };
    },

    async placeWebUpload(input: { handoverId: string }): Promise<WebUploadOutcome> {
      const em = deps.orm.em.fork();
      const upload = await peekUpload(em, input.handoverId);
      if (!upload) return { outcome: 'withdrawn' };
      const name = checkUploadName(upload.fileName);
      if (!name.ok || name.name !== upload.fileName || upload.content.length > deps.maxFileBytes || sha256OfBuffer(upload.content) !== upload.sha256) {
        await dropHandover(em, input.handoverId);
        return { outcome: 'withdrawn' };
      }
      // Written whole and flushed under a hidden name the watcher ignores, then given its name (commitStaged).
      const temp = path.join(deps.uploadDir, `.${upload.fileName}.${randomBytes(6).toString('hex')}.part`);
      const out = await open(temp, 'wx', 0o640);
      try {
        await out.writeFile(upload.content);
        await out.sync();
      } finally {
        await out.close();
      }
      // A retry finds the upload claimed already (the worker died after claiming it): it is placed again. Should the
      // watcher have taken the first placing already, the second is a copy of the same content, set aside as such.
      if (upload.stage === 'to-host' && !(await claimUpload(em, input.handoverId))) {
        await unlink(temp).catch(() => undefined);
        return { outcome: 'withdrawn' };
      }
      const target = path.join(deps.uploadDir, upload.fileName);
      const alreadyThere = (await sha256OfFile(target).catch(() => undefined)) === upload.sha256;
      const stored = alreadyThere ? (await unlink(temp), { stored: true as const }) : await commitStaged(deps.uploadDir, temp, upload.fileName);
      await dropHandover(em, input.handoverId);
      return stored.stored ? { outcome: 'placed' } : { outcome: 'name-taken' };
    },
  };
}

export type HandoverActivities = ReturnType<typeof createHandoverActivities>;
