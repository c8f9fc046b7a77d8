import type { EntityManager } from '@mikro-orm/postgresql';
import type { FileState } from '../domain/file-state';
import { appendChainedEvent } from './audit-chain';
import { Acknowledgement, FileEvent, ForeignAccess, RemoteFolder, ResultFile, WebUpload } from './entities';
import type { IResultFile } from './entities/result-file';

export interface RegisterUpload {
  workflowId: string;
  runId: string;
  fileName: string;
  uploadPath: string;
  sizeBytes: number;
  sha256: string;
  uploadedAt: Date;
  uploadedBy?: string;
}

export interface Registered {
  resultFileId: number;
  /** Set when this content was already delivered (or is being delivered) under another upload. */
  duplicateOf?: number;
}

export interface EventInput {
  /** Unique per logical event; a retried write with the same key is a no-op. */
  eventKey: string;
  type: string;
  message: string;
  detail?: Record<string, unknown>;
  actor?: string;
  at?: Date;
}

const NOT_A_DELIVERY: FileState[] = ['REJECTED', 'DUPLICATE', 'SUPERSEDED'];

/**
 * Every write to a file's record and its event trail goes through here, so each state change and its event row land in
 * one transaction and a retried call changes nothing twice.
 */
/** One access-log line that shows a fetch: what the ledger keeps of it, whichever way it is judged. */
export interface FetchEvidence {
  /** Identity of the log line (log file identity + byte offset): the same line is never recorded twice. */
  evidenceKey: string;
  accessedAt: Date;
  client: string;
  /** Apache's `%u`, when the clinic logged in. */
  user?: string;
  requestLine: string;
  status?: number;
  bytes?: number;
}

export class FileLedger {
  constructor(private readonly em: EntityManager) {}

  async register(input: RegisterUpload): Promise<Registered> {
    return this.em.transactional(async (em) => {
      const mine = await em.findOne(ResultFile, { runId: input.runId });
      if (mine) return { resultFileId: mine.id, duplicateOf: mine.duplicateOf ?? undefined };

      // Serialises registrations of the same content across runs (the partial unique index is the backstop).
      // em.execute runs inside this transaction; em.getConnection().execute would take a second pooled connection
      // (lock released at once, and pool exhaustion under load: each registration then holds one and waits for another).
      await em.execute('select pg_advisory_xact_lock(hashtext(?))', [input.sha256]);
      const delivery = await em.findOne(
        ResultFile,
        { sha256: input.sha256, state: { $nin: NOT_A_DELIVERY } },
        { orderBy: { id: 'asc' } },
      );
      const uploadedBy = input.uploadedBy ?? (await this.webUploaderOf(em, input.fileName, input.sha256));
      const withUploader = { ...input, uploadedBy };
      const row = this.insertUpload(em, withUploader, delivery ?? undefined);
      await em.flush();
      await this.recordUploadEvents(em, row, withUploader, delivery ?? undefined);
      return { resultFileId: row.id, duplicateOf: delivery?.id };
    });
  }

  /**
   * Records a copy of `originalId`'s content that landed while the original was still being delivered: a row of its
   * own (state DUPLICATE), so every upload is listed, and an event on the original.
   */
  async registerCopy(originalId: number, copy: RegisterUpload & { duplicatePath: string | null }): Promise<number> {
    return this.em.transactional(async (em) => {
      const mine = await em.findOne(ResultFile, { runId: copy.runId });
      if (mine) return mine.id;
      const original = await em.findOneOrFail(ResultFile, { id: originalId });
      const row = this.insertUpload(em, copy, original);
      row.archivePath = copy.duplicatePath;
      await em.flush();
      await this.recordUploadEvents(em, row, copy, original);
      return row.id;
    });
  }

  /**
   * Files uploaded through the web page reach the workflow through the upload folder like any other, so who uploaded
   * them is found here: the newest web upload of this name and content.
   */
  private async webUploaderOf(em: EntityManager, fileName: string, sha256: string): Promise<string | undefined> {
    const upload = await em.findOne(WebUpload, { fileName, sha256 }, { orderBy: { id: 'desc' } });
    return upload?.username;
  }

  private insertUpload(em: EntityManager, input: RegisterUpload, duplicateOf?: IResultFile): IResultFile {
    return em.create(ResultFile, {
      workflowId: input.workflowId,
      runId: input.runId,
      fileName: input.fileName,
      uploadPath: input.uploadPath,
      sizeBytes: input.sizeBytes,
      sha256: input.sha256,
      uploadedAt: input.uploadedAt,
      uploadedBy: input.uploadedBy ?? null,
      state: duplicateOf ? 'DUPLICATE' : 'RECEIVED',
      stateReason: duplicateOf
        ? `Same content as ${duplicateOf.fileName} (file #${duplicateOf.id}), received ${duplicateOf.uploadedAt.toISOString()}; set aside, not sent again.`
        : null,
      duplicateOf: duplicateOf?.id ?? null,
    });
  }

  private async recordUploadEvents(em: EntityManager, row: IResultFile, input: RegisterUpload, duplicateOf?: IResultFile): Promise<void> {
    await this.addEvent(em, row.id, duplicateOf ? 'DUPLICATE' : 'RECEIVED', {
      eventKey: `${input.runId}:received`,
      type: 'RECEIVED',
      message: `Picked up from the upload folder (${input.sizeBytes} bytes, SHA-256 ${input.sha256.slice(0, 12)}…).`,
      actor: input.uploadedBy,
      at: input.uploadedAt,
    });
    if (!duplicateOf) return;
    await this.addEvent(em, row.id, 'DUPLICATE', {
      eventKey: `${input.runId}:duplicate`,
      type: 'DUPLICATE',
      message: `Same content as file #${duplicateOf.id} (${duplicateOf.fileName}); set aside, not sent again.`,
      detail: { duplicateOf: duplicateOf.id },
    });
    await this.addEvent(em, duplicateOf.id, null, {
      eventKey: `${input.runId}:copy-of`,
      type: 'COPY_UPLOADED',
      message: `Another copy was uploaded as ${input.fileName} (file #${row.id}); it was set aside, not sent again.`,
      detail: { copy: row.id },
    });
  }

  /** Changes state (optionally other columns) and appends the event, once per event key. */
  async transition(
    resultFileId: number,
    state: FileState | null,
    event: EventInput,
    patch: Partial<Omit<IResultFile, 'id' | 'state'>> = {},
  ): Promise<void> {
    await this.em.transactional(async (em) => {
      if (await em.count(FileEvent, { eventKey: event.eventKey })) return;
      const row = await em.findOneOrFail(ResultFile, { id: resultFileId });
      // The log scan may record the clinic's fetch before the workflow has written SENT/AWAITING_ACK: never step back.
      const keep = row.state === 'ACKNOWLEDGED' && (state === 'SENT' || state === 'AWAITING_ACK');
      em.assign(row, { ...patch, ...(state && !keep ? { state } : {}) } as Partial<IResultFile>);
      if (state && !keep) row.stateReason = (patch.stateReason as string | null | undefined) ?? null;
      await this.addEvent(em, resultFileId, state, event);
    });
  }

  async findFolder(label: string, hint: string): Promise<{ folder: string; basePath: string } | null> {
    const row = await this.em.findOne(RemoteFolder, { label, folderTag: hint });
    return row ? { folder: row.folder, basePath: row.basePath } : null;
  }

  /** Records each access once (by evidence key); the earliest becomes the file's acknowledgement. */
  async recordAccesses(
    resultFileId: number,
    accesses: ReadonlyArray<FetchEvidence & { remotePath?: string }>,
  ): Promise<void> {
    await this.em.transactional(async (em) => {
      const row = await em.findOneOrFail(ResultFile, { id: resultFileId });
      const hadAck = (await em.count(Acknowledgement, { resultFileId, first: true })) > 0;
      const sorted = [...accesses].sort((a, b) => a.accessedAt.getTime() - b.accessedAt.getTime());
      let first = !hadAck;
      for (const access of sorted) {
        if (await em.count(Acknowledgement, { evidenceKey: access.evidenceKey })) continue;
        em.create(Acknowledgement, {
          resultFileId,
          remotePath: access.remotePath ?? row.remotePath ?? '',
          accessedAt: access.accessedAt,
          client: access.client,
          remoteUser: access.user ?? null,
          requestLine: access.requestLine,
          status: access.status ?? null,
          bytes: access.bytes ?? null,
          first,
          evidenceKey: access.evidenceKey,
        });
        if (first) {
          row.state = 'ACKNOWLEDGED';
          row.stateReason = null;
          row.acknowledgedAt = access.accessedAt;
        }
        await this.addEvent(em, resultFileId, first ? 'ACKNOWLEDGED' : null, {
          eventKey: `ack:${access.evidenceKey}`,
          type: first ? 'ACKNOWLEDGED' : 'ACCESSED',
          message: `${first ? 'Acknowledged: the clinic fetched the file' : 'Fetched again'} from ${access.client} (${access.requestLine}, status ${access.status ?? '?'}).`,
          detail: { ...access, accessedAt: access.accessedAt.toISOString() },
          at: access.accessedAt,
        });
        first = false;
      }
    });
  }

  /** Evidence of a fetch of a file we have no delivery for: kept, never lost, so an operator can look into it. */
  async recordUnmatchedAccess(access: FetchEvidence & { remotePath: string }): Promise<boolean> {
    const inserted = await this.em.getConnection().execute(
      `insert into acknowledgement (result_file_id, remote_path, accessed_at, client, remote_user, request_line, status, bytes, first, evidence_key, recorded_at)
       values (null, ?, ?, ?, ?, ?, ?, ?, false, ?, now()) on conflict (evidence_key) do nothing`,
      [access.remotePath, access.accessedAt, access.client, access.user ?? null, access.requestLine, access.status ?? null, access.bytes ?? null, access.evidenceKey],
      'run',
    );
    return (inserted as { affectedRows?: number }).affectedRows === 1;
  }

  /**
   * A fetch of a delivered file that its clinic folder's receipt rule does not accept: kept as evidence with the
   * reason, and written to the file's trail, but not an acknowledgement. Once per evidence key; false when already kept.
   */
  async recordForeignAccess(
    resultFileId: number,
    access: FetchEvidence & { remotePath: string; clinicFolder: string; reason: string },
  ): Promise<boolean> {
    return this.em.transactional(async (em) => {
      if (await em.count(ForeignAccess, { evidenceKey: access.evidenceKey })) return false;
      em.create(ForeignAccess, {
        resultFileId,
        clinicFolder: access.clinicFolder,
        remotePath: access.remotePath,
        accessedAt: access.accessedAt,
        client: access.client,
        remoteUser: access.user ?? null,
        requestLine: access.requestLine,
        status: access.status ?? null,
        bytes: access.bytes ?? null,
        reason: access.reason,
        evidenceKey: access.evidenceKey,
      });
      await em.flush();
      await this.addEvent(em, resultFileId, null, {
        eventKey: `foreign:${access.evidenceKey}`,
        type: 'FOREIGN_FETCH',
        message: `Fetched from ${access.client}${access.user ? ` by user ${access.user}` : ''} (${access.requestLine}, status ${access.status ?? '?'}), but not counted as receipt: ${access.reason}.`,
        detail: { ...access, accessedAt: access.accessedAt.toISOString() },
        at: access.accessedAt,
      });
      return true;
    });
  }

  /** Appends to the hash-chained trail (src/db/audit-chain.ts): must run inside this call's transaction. */
  private async addEvent(em: EntityManager, resultFileId: number, state: FileState | null, event: EventInput): Promise<void> {
    await appendChainedEvent(em, {
      resultFileId,
      eventKey: event.eventKey,
      type: event.type,
      state,
      message: event.message,
      detail: event.detail ?? null,
      actor: event.actor ?? 'system',
      at: event.at ?? new Date(),
    });
  }
}
