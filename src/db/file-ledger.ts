/**
 * The file ledger: every write to a file's record and its tamper-evident trail (registration, transitions, receipts,
 * withdrawals, refused messages). One class holds the chain lock, the event keys that make a retried write land once,
 * and the hot path's SQL, so no write can bypass them.
 */
import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { FileState } from '../domain/file-state';
import type { DeliveryResult } from '../transfer/destination';
import { executorOf, type HotPathSql, type SqlExecutor } from './hot-path-sql';
import { appendChainedEvent, chainedInsert, lockChain, TIP_COLUMNS_SQL, tipOf, type NewEvent } from './audit-chain';
import { ForeignFetch, Receipt, ResultFile, UnknownFetch } from './entities';
import type { IResultFile } from './entities/result-file';
import type { FetchEvidence } from '../workflows/definitions';

export interface RegisterUpload {
  workflowId: string;
  runId: string;
  fileName: string;
  uploadPath: string;
  sizeBytes: number;
  sha256: string;
  uploadedAt: Date;
  uploadedBy?: string;
  /** The upload host holding the file, and so its lab; absent only in tests and old callers: the lab `default`, no host. */
  host?: { name: string; labId: number };
}

export interface Registered {
  resultFileId: number;
  /** Set when this content was already delivered (or is being delivered) under another upload. */
  duplicateOf?: number;
  /** Set when this run had registered the upload before: what it has recorded since (see RunProgress). */
  recorded?: RunProgress;
}

/**
 * What one run recorded of its file's steps, read back when that run registers again: a step that ran again after a
 * crash (a local activity's result is durable only once its workflow task completes) continues from here instead of
 * checking a file that an earlier attempt already moved away.
 */
export interface RunProgress {
  rejected?: { code: string; reason: string };
  superseded?: { reason: string };
  /** The verified delivery, as recordSent stored it. */
  sent?: DeliveryResult & { destination: string };
  archivePath?: string;
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

const NOT_A_DELIVERY: FileState[] = ['REJECTED', 'DUPLICATE', 'SUPERSEDED', 'WITHDRAWN'];

/** What a registration reads under the chain's lock: the live delivery of the content, a reserved id, the tip. */
interface UploadContext {
  delivery: { id: string; fileName: string; uploadedAt: string; labId: number } | null;
  default_lab: number;
  next_id: string;
  tip_seq: string | null;
  tip_hash: string | null;
}

/** One step of a file's life: a state change (or none), the columns it sets, and its event. */
export interface TransitionStep {
  state: FileState | null;
  event: EventInput;
  patch?: Partial<Omit<IResultFile, 'id' | 'state'>>;
}

/**
 * Every write to a file's record and its event trail goes through here, so each state change and its event row land in
 * one transaction and a retried call changes nothing twice.
 */
export class FileLedger {
  /**
   * `hotPath`: the workflows' ledger activities pass their own pool (hot-path-sql.ts) for registrations and
   * transitions. Without it (the web page's actions, the log scan) everything runs through `em`, inside its caller's
   * transaction when there is one.
   */
  constructor(
    private readonly em: EntityManager,
    private readonly hotPath?: HotPathSql,
  ) {}

  private transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.hotPath ? this.hotPath.transaction(work) : this.em.transactional((em) => work(executorOf(em)));
  }

  /**
   * Records a new upload (once per run) as RECEIVED, or as a DUPLICATE of the live delivery of the same content.
   * Like `transitions`, the hot path in a few statements: after the chain's lock, which also keeps two uploads of the
   * same content from both finding no delivery (the partial unique index is the backstop), one read and one write.
   */
  async register(input: RegisterUpload): Promise<Registered> {
    return this.transaction(async (tx) => {
      await lockChain(tx);
      const [found] = await tx.execute<Array<UploadContext & { mine: { id: string; duplicateOf: string | null } | null; web_uploader: string | null }>>(
        `select (select json_build_object('id', id::text, 'duplicateOf', duplicate_of::text) from result_file where run_id = ?) as mine,
                (select json_build_object('id', id::text, 'fileName', file_name, 'uploadedAt', uploaded_at, 'labId', lab_id) from result_file
                  where sha256 = ? and state not in (${NOT_A_DELIVERY.map(() => '?').join(', ')}) order by id asc limit 1) as delivery,
                (select username from web_upload where file_name = ? and sha256 = ? order by id desc limit 1) as web_uploader,
                (select id from lab where name = 'default') as default_lab,
                nextval(pg_get_serial_sequence('result_file', 'id'))::text as next_id,
                ${TIP_COLUMNS_SQL}`,
        [input.runId, input.sha256, ...NOT_A_DELIVERY, input.fileName, input.sha256],
      );
      if (!found) throw new Error('The registration query returned nothing.');
      if (found.mine) {
        return {
          resultFileId: Number(found.mine.id),
          duplicateOf: found.mine.duplicateOf === null ? undefined : Number(found.mine.duplicateOf),
          recorded: await this.progressOfRun(tx, input.runId),
        };
      }
      // Files uploaded through the web page reach the workflow through the upload folder like any other, so who
      // uploaded them is found here: the newest web upload of this name and content.
      const uploadedBy = input.uploadedBy ?? found.web_uploader ?? undefined;
      return this.insertUpload(tx, found, { ...input, uploadedBy });
    });
  }

  /** The steps a run has recorded, from its event keys (the ledger activities' `${runId}:<step>` keys). */
  private async progressOfRun(tx: SqlExecutor, runId: string): Promise<RunProgress> {
    const steps = ['rejected', 'superseded', 'sent', 'archived'] as const;
    const rows = await tx.execute<Array<{ event_key: string; message: string; detail: Record<string, unknown> | null }>>(
      `select event_key, message, detail from file_event where event_key in (${steps.map(() => '?').join(', ')})`,
      steps.map((step) => `${runId}:${step}`),
    );
    const progress: RunProgress = {};
    for (const { event_key, message, detail } of rows) {
      const step = event_key.slice(runId.length + 1);
      if (step === 'rejected') progress.rejected = { code: String(detail?.code), reason: message };
      else if (step === 'superseded') progress.superseded = { reason: message };
      else if (step === 'sent') progress.sent = detail as unknown as RunProgress['sent']; // written by recordSent from a DeliveryResult
      else if (step === 'archived') progress.archivePath = String(detail?.archivePath);
    }
    return progress;
  }

  /**
   * Records a copy of `originalId`'s content that landed while the original was still being delivered: a row of its
   * own (state DUPLICATE), so every upload is listed, and an event on the original.
   */
  async registerCopy(originalId: number, copy: RegisterUpload & { duplicatePath: string | null }): Promise<number> {
    return this.transaction(async (tx) => {
      await lockChain(tx);
      const [found] = await tx.execute<Array<UploadContext & { mine: string | null }>>(
        `select (select id::text from result_file where run_id = ?) as mine,
                (select json_build_object('id', id::text, 'fileName', file_name, 'uploadedAt', uploaded_at, 'labId', lab_id) from result_file where id = ?) as delivery,
                (select id from lab where name = 'default') as default_lab,
                nextval(pg_get_serial_sequence('result_file', 'id'))::text as next_id,
                ${TIP_COLUMNS_SQL}`,
        [copy.runId, originalId],
      );
      if (!found?.delivery) throw new Error(`There is no result_file ${originalId}.`);
      if (found.mine) return Number(found.mine);
      return (await this.insertUpload(tx, found, copy, copy.duplicatePath)).resultFileId;
    });
  }

  /**
   * Inserts the upload's row under the id reserved in `context` and its events (RECEIVED; for a duplicate also
   * DUPLICATE, and COPY_UPLOADED on the original) in one statement. Runs under the chain's lock.
   */
  private async insertUpload(tx: SqlExecutor, context: UploadContext, input: RegisterUpload, archivePath: string | null = null): Promise<Registered> {
    const id = Number(context.next_id);
    const labId = input.host?.labId ?? context.default_lab;
    const delivery = context.delivery && {
      id: Number(context.delivery.id),
      // Another lab's file name is its patient's identifier: this lab's trail names the delivery by id only.
      fileName: context.delivery.labId === labId ? context.delivery.fileName : 'a file of another lab',
      uploadedAt: new Date(context.delivery.uploadedAt),
    };
    const row = {
      id,
      workflow_id: input.workflowId,
      run_id: input.runId,
      file_name: input.fileName,
      upload_path: input.uploadPath,
      size_bytes: input.sizeBytes,
      sha256: input.sha256,
      uploaded_at: input.uploadedAt,
      uploaded_by: input.uploadedBy ?? null,
      state: delivery ? 'DUPLICATE' : 'RECEIVED',
      state_reason: delivery
        ? `Same content as ${delivery.fileName} (file #${delivery.id}), received ${delivery.uploadedAt.toISOString()}; set aside, not sent again.`
        : null,
      duplicate_of: delivery?.id ?? null,
      archive_path: archivePath,
      updated_at: new Date(),
      lab_id: labId,
      upload_host: input.host?.name ?? null,
    };
    const events: NewEvent[] = [
      this.newEvent(id, delivery ? 'DUPLICATE' : 'RECEIVED', {
        eventKey: `${input.runId}:received`,
        type: 'RECEIVED',
        message: `Received: taken from the upload folder (${input.sizeBytes} bytes, SHA-256 ${input.sha256.slice(0, 12)}…).`,
        actor: input.uploadedBy,
        at: input.uploadedAt,
      }),
    ];
    if (delivery) {
      events.push(
        this.newEvent(id, 'DUPLICATE', {
          eventKey: `${input.runId}:duplicate`,
          type: 'DUPLICATE',
          message: `Same content as file #${delivery.id} (${delivery.fileName}); set aside, not sent again.`,
          detail: { duplicateOf: delivery.id },
        }),
        this.newEvent(delivery.id, null, {
          eventKey: `${input.runId}:copy-of`,
          type: 'COPY_UPLOADED',
          message: `Another copy was uploaded as ${input.fileName} (file #${id}); it was set aside, not sent again.`,
          detail: { copy: id },
        }),
      );
    }
    const columns = Object.keys(row);
    const insert = chainedInsert(
      tipOf(context),
      events,
      `with inserted as (insert into result_file (${columns.map((c) => `"${c}"`).join(', ')}) values (${columns.map(() => '?').join(', ')}))`,
    );
    await tx.execute(insert.sql, [...Object.values(row), ...insert.params]);
    return { resultFileId: id, duplicateOf: delivery?.id };
  }

  /** Changes state (optionally other columns) and appends the event, once per event key. */
  async transition(
    resultFileId: number,
    state: FileState | null,
    event: EventInput,
    patch: Partial<Omit<IResultFile, 'id' | 'state'>> = {},
  ): Promise<void> {
    await this.transitions(resultFileId, [{ state, event, patch }]);
  }

  /**
   * Several steps of one file in one transaction, each as `transition` would make it and each once per event key: a
   * step whose event is already recorded changes nothing. This is the hot path of every file, so it is written as a
   * few statements of SQL rather than through the unit of work: after the chain's lock, one read (the row's state,
   * which keys exist, the chain's tip) and one write (the row's update and the events, as one statement).
   */
  async transitions(resultFileId: number, steps: ReadonlyArray<TransitionStep>): Promise<void> {
    if (!steps.length) return;
    await this.transaction(async (tx) => {
      await lockChain(tx);
      const keys = steps.map((s) => s.event.eventKey);
      const [found] = await tx.execute<Array<{ state: FileState | null; existing: string[]; tip_seq: string | null; tip_hash: string | null }>>(
        `select (select state from result_file where id = ?) as state,
                array(select event_key from file_event where event_key in (${keys.map(() => '?').join(', ')})) as existing,
                ${TIP_COLUMNS_SQL}`,
        [resultFileId, ...keys],
      );
      if (!found?.state) throw new Error(`There is no result_file ${resultFileId}.`);
      const recorded = new Set(found.existing);
      let state: FileState = found.state;
      const columns: Record<string, unknown> = {};
      const events: NewEvent[] = [];
      for (const step of steps) {
        if (recorded.has(step.event.eventKey)) continue;
        recorded.add(step.event.eventKey);
        // A withdrawn file's row stays as the withdrawal left it (no reason, time or path from a late step).
        if (state !== 'WITHDRAWN') Object.assign(columns, step.patch);
        // The log scan may record the clinic's fetch before the workflow has written SENT/AWAITING_ACK: never step back.
        // A withdrawn file stays withdrawn: a run that had not heard of it (its deadline, a late fetch) records its
        // event, but does not bring the file back.
        const keep = (state === 'ACKNOWLEDGED' && (step.state === 'SENT' || step.state === 'AWAITING_ACK')) || state === 'WITHDRAWN';
        if (step.state && !keep) {
          state = step.state;
          Object.assign(columns, { state, stateReason: step.patch?.stateReason ?? null });
        }
        events.push(this.newEvent(resultFileId, step.state, step.event));
      }
      if (!events.length) return;
      const update = this.rowUpdate(resultFileId, columns);
      const insert = chainedInsert(tipOf(found), events, update.sql);
      await tx.execute(insert.sql, [...update.params, ...insert.params]);
    });
  }

  /** `with changed as (update result_file ...)`, for the statement that also inserts the events; none when nothing changes. */
  private rowUpdate(resultFileId: number, columns: Record<string, unknown>): { sql: string; params: unknown[] } {
    const entries = Object.entries(columns).filter(([, value]) => value !== undefined);
    if (!entries.length) return { sql: '', params: [] };
    const meta = this.em.getMetadata().get(ResultFile);
    // Column names come from the entity, so a renamed property cannot drift from the table here.
    const assignments = [...entries, ['updatedAt', new Date()] as const].map(([property, value]) => {
      const column = meta.properties[property as keyof typeof meta.properties]?.fieldNames[0];
      if (!column) throw new Error(`result_file has no property ${property}.`);
      return { sql: `"${column}" = ?`, value };
    });
    return {
      sql: `with changed as (update result_file set ${assignments.map((a) => a.sql).join(', ')} where id = ? returning id)`,
      params: [...assignments.map((a) => a.value), resultFileId],
    };
  }

  private newEvent(resultFileId: number, state: FileState | null, event: EventInput): NewEvent {
    return {
      resultFileId,
      eventKey: event.eventKey,
      type: event.type,
      state,
      message: event.message,
      detail: event.detail ?? null,
      actor: event.actor ?? 'system',
      at: event.at ?? new Date(),
    };
  }

  /**
   * Records each receipt (a fetch of this file that counts) once, by evidence key; the earliest becomes the file's
   * acknowledgement.
   */
  async recordReceipts(resultFileId: number, fetches: readonly FetchEvidence[]): Promise<void> {
    await this.em.transactional(async (em) => {
      const row = await em.findOneOrFail(ResultFile, { id: resultFileId });
      const hadAck = (await em.count(Receipt, { resultFileId, first: true })) > 0;
      const sorted = [...fetches].sort((a, b) => Date.parse(a.accessedAt) - Date.parse(b.accessedAt));
      let first = !hadAck;
      for (const fetch of sorted) {
        // A log line is recorded once, whichever way it was judged first (a re-read line of a path that was unknown
        // then does not become a receipt of a file delivered there since).
        if ((await em.count(Receipt, { evidenceKey: fetch.evidenceKey })) || (await em.count(UnknownFetch, { evidenceKey: fetch.evidenceKey }))) continue;
        const accessedAt = new Date(fetch.accessedAt);
        em.create(Receipt, {
          resultFileId,
          remotePath: fetch.remotePath ?? row.remotePath ?? '',
          accessedAt,
          client: fetch.client,
          remoteUser: fetch.user ?? null,
          requestLine: fetch.requestLine,
          status: fetch.status ?? null,
          bytes: fetch.bytes ?? null,
          first,
          evidenceKey: fetch.evidenceKey,
        });
        if (first) {
          row.state = 'ACKNOWLEDGED';
          row.stateReason = null;
          row.acknowledgedAt = accessedAt;
        }
        await this.addEvent(em, resultFileId, first ? 'ACKNOWLEDGED' : null, {
          eventKey: `ack:${fetch.evidenceKey}`,
          type: first ? 'ACKNOWLEDGED' : 'ACCESSED',
          message: `${first ? 'Acknowledged: the clinic fetched the file' : 'Fetched again'} from ${fetch.client} (${fetch.requestLine}, status ${fetch.status ?? '?'}).`,
          detail: { ...fetch, accessedAt: accessedAt.toISOString() },
          at: accessedAt,
        });
        first = false;
      }
    });
  }

  /**
   * Which of the fetches a workflow was told about the log scan recorded for this file (a receipt row with
   * that evidence key and file); the others are kept as RECEIPT_REFUSED events, once per claimed key. Claimed values
   * are shortened: they come from whoever sent the signal.
   */
  async checkSignalledFetches(
    resultFileId: number,
    claimed: ReadonlyArray<{ evidenceKey: string; client?: string; requestLine?: string }>,
  ): Promise<{ verifiedKeys: string[] }> {
    const keys = [...new Set(claimed.map((c) => String(c.evidenceKey).slice(0, 200)))];
    if (!keys.length) return { verifiedKeys: [] };
    const rows = await this.em.execute<Array<{ evidence_key: string }>>(
      `select evidence_key from receipt where result_file_id = ? and evidence_key in (${keys.map(() => '?').join(', ')})`,
      [resultFileId, ...keys],
    );
    const verified = new Set(rows.map((r) => r.evidence_key));
    const short = (value: unknown) => (typeof value === 'string' || typeof value === 'number' ? String(value) : '?').replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, 120);
    const refused = claimed.filter((c) => !verified.has(String(c.evidenceKey).slice(0, 200)));
    if (refused.length) {
      await this.transitions(
        resultFileId,
        refused.map((c) => ({
          state: null,
          event: {
            eventKey: `receipt-refused:${createHash('sha256').update(String(c.evidenceKey)).digest('hex')}`,
            type: 'RECEIPT_REFUSED',
            message:
              `A receipt signal claimed a fetch (from ${short(c.client)}, ${short(c.requestLine)}) that no log scan recorded: ` +
              'it was refused and acknowledged nothing. Someone who can reach Temporal sent it; tell an operator.',
            detail: { claimedEvidenceKey: short(c.evidenceKey) },
          },
        })),
      );
    }
    return { verifiedKeys: [...verified] };
  }

  /**
   * A person took a sent file back from its clinic folder (issue 12). WITHDRAWN is final: a run that had not heard of
   * it records its later events without changing the state, a later fetch of the path is no receipt (the log scan
   * matches delivered files only), and the same content may be sent again. Once per withdrawal id.
   */
  async recordWithdrawn(
    resultFileId: number,
    input: { withdrawalId: string; actor: string; reason: string; outcome: 'moved' | 'alreadyMoved' | 'notThere'; movedTo?: string },
  ): Promise<void> {
    const where =
      input.outcome === 'notThere'
        ? 'It was no longer in the clinic folder on server B (removed there already).'
        : `Moved aside on server B to ${input.movedTo}; the clinic no longer sees it.`;
    const reason = `Withdrawn by ${input.actor}: ${input.reason}`;
    await this.transition(
      resultFileId,
      'WITHDRAWN',
      { eventKey: `withdrawn:${input.withdrawalId}`, type: 'WITHDRAWN', message: `${reason}. ${where}`, detail: { ...input }, actor: input.actor },
      { stateReason: reason },
    );
  }

  /**
   * A message a workflow refused (src/workflows/untrusted-messages.ts): on the timeline of the file that workflow
   * holds, or, when it holds none yet (a forged start, a signal before the file was registered), in security_event.
   * Once per event key.
   */
  async recordRefusedMessage(input: { workflowId: string; runId: string; eventKey: string; message: string }): Promise<void> {
    // The run that registered a file has its run id on the row (unique, indexed).
    const [file] = await this.em.execute<Array<{ id: string }>>(`select id from result_file where run_id = ?`, [input.runId]);
    if (file) {
      await this.transition(Number(file.id), null, { eventKey: input.eventKey, type: 'REFUSED_MESSAGE', message: input.message, detail: { workflowId: input.workflowId } });
      return;
    }
    await this.em.execute(
      `insert into security_event (event_key, type, workflow_id, run_id, message, at) values (?, 'REFUSED_MESSAGE', ?, ?, ?, now()) on conflict (event_key) do nothing`,
      [input.eventKey, input.workflowId, input.runId, input.message],
    );
  }

  /** An unknown fetch (of a file we have no delivery for): kept, never lost, so an operator can look into it. */
  async recordUnknownFetch(access: FetchEvidence & { remotePath: string }): Promise<boolean> {
    const inserted = await this.em.getConnection().execute(
      // Not when the line is a receipt already (a re-read line of a file withdrawn since): a line is recorded once.
      `insert into unknown_fetch (remote_path, accessed_at, client, remote_user, request_line, status, bytes, evidence_key, recorded_at)
       select ?, ?, ?, ?, ?, ?, ?, ?, now() where not exists (select 1 from receipt where evidence_key = ?)
       on conflict (evidence_key) do nothing`,
      [access.remotePath, new Date(access.accessedAt), access.client, access.user ?? null, access.requestLine, access.status ?? null, access.bytes ?? null, access.evidenceKey, access.evidenceKey],
      'run',
    );
    return (inserted as { affectedRows?: number }).affectedRows === 1;
  }

  /**
   * A foreign fetch (of a delivered file, but refused by its clinic folder's receipt rule): kept as evidence with the
   * reason, and written to the file's trail, but not a receipt. Once per evidence key; false when already kept.
   */
  async recordForeignFetch(
    resultFileId: number,
    access: FetchEvidence & { remotePath: string; clinicFolder: string; reason: string },
  ): Promise<boolean> {
    return this.em.transactional(async (em) => {
      if (await em.count(ForeignFetch, { evidenceKey: access.evidenceKey })) return false;
      em.create(ForeignFetch, {
        resultFileId,
        clinicFolder: access.clinicFolder,
        remotePath: access.remotePath,
        accessedAt: new Date(access.accessedAt),
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
        detail: { ...access, accessedAt: new Date(access.accessedAt).toISOString() },
        at: new Date(access.accessedAt),
      });
      return true;
    });
  }

  /** Appends to the hash-chained trail (src/db/audit-chain.ts): must run inside this call's transaction. */
  private async addEvent(em: EntityManager, resultFileId: number, state: FileState | null, event: EventInput): Promise<void> {
    await appendChainedEvent(em, this.newEvent(resultFileId, state, event));
  }
}
