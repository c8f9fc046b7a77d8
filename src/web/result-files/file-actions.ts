import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Receipt, ResultFile } from '../../db/entities';
import { FileLedger } from '../../db/file-ledger';
import { findRemoteFolder } from '../../remote-folders/remote-folder-table';
import type { ResultWorkflows } from '../../temporal/result-workflows';
import { AUDITABLE_STATES, WAITING_STATES } from '../views/states';
import { inLabScope } from '../auth/lab-scope';

/** A refusal the page shows as it is (no internals in it). */
export class ActionRefused extends Error {}

/**
 * What a person may do to a file from the web page. Each action writes its event through FileLedger (one transaction
 * with any state change), with the person as actor, so the timeline shows who did what.
 */
export class FileActions {
  constructor(
    private readonly em: EntityManager,
    private readonly actor: string,
    private readonly workflows?: ResultWorkflows,
    /** The actor's lab: files of other labs are not theirs to act on (undefined: an admin of every lab). */
    private readonly labId?: number,
  ) {}

  private scoped<T extends object>(where: T): T & { labId?: number } {
    return { ...where, ...inLabScope(this.labId) };
  }

  /** Wakes a waiting workflow (no folder mapped, or transfer blocked) through the retry signal. */
  async retry(id: number): Promise<void> {
    const row = await this.em.findOne(ResultFile, this.scoped({ id }));
    if (!row) throw new ActionRefused('There is no such file.');
    if (!WAITING_STATES.includes(row.state)) throw new ActionRefused('Only a file that is waiting (needs a folder, or transfer blocked) can be retried.');
    // Trying again with nothing changed would only fail again and add to the timeline: say so instead.
    if (row.state === 'NEEDS_FOLDER' && row.label && row.hint && !(await findRemoteFolder(this.em, row.label, row.hint, row.labId))) {
      throw new ActionRefused(
        `Nothing has changed: there is still no clinic folder for ${row.label} hint "${row.hint}", so it was not tried again. ` +
          'Ask an admin to add the folder: the file is then sent by itself.',
      );
    }
    if (!this.workflows) throw new ActionRefused('Retry is unavailable: this web process is not connected to Temporal (TEMPORAL_ADDRESS).');
    if ((await this.workflows.retry(row)) === 'closed') throw new ActionRefused('Its workflow is no longer running, so it cannot be retried.');
    await new FileLedger(this.em).transition(id, null, {
      eventKey: `web:retry:${id}:${randomUUID()}`,
      type: 'RETRY_REQUESTED',
      message: `${this.actor} asked for another try.`,
      actor: this.actor,
    });
  }

  /**
   * Records "checked and sent" for each listed file that was sent. `batchId` comes from the form, so submitting the
   * same form twice records each file once.
   */
  async markAudited(ids: number[], batchId: string): Promise<{ audited: number; skipped: number }> {
    const rows = await this.em.find(ResultFile, this.scoped({ id: { $in: ids } }));
    const ledger = new FileLedger(this.em);
    let audited = 0;
    for (const row of rows) {
      if (!AUDITABLE_STATES.includes(row.state)) continue;
      await ledger.transition(row.id, null, {
        eventKey: `web:audited:${row.id}:${batchId}`,
        type: 'AUDITED',
        message: `Checked and sent: confirmed by ${this.actor}.`,
        detail: { batch: batchId, batchSize: ids.length },
        actor: this.actor,
      });
      audited++;
    }
    return { audited, skipped: ids.length - audited };
  }

  /**
   * Takes back an acknowledgement that was wrong (say, the lab itself fetched the file). Only the database changes:
   * the workflow has already ended, so nothing in Temporal waits for a new fetch. The file becomes UNACKNOWLEDGED
   * (sent, no fetch confirmed), not AWAITING_ACK: no workflow is waiting any more, and the ledger never steps an
   * acknowledged file back to AWAITING_ACK anyway. The access rows stay as evidence; they just no longer count as the
   * first fetch, so a later real fetch recorded by the log scan acknowledges the file again.
   */
  async undoAcknowledgement(id: number, reason: string): Promise<void> {
    const row = await this.em.findOne(ResultFile, this.scoped({ id }));
    if (!row) throw new ActionRefused('There is no such file.');
    if (row.state !== 'ACKNOWLEDGED') throw new ActionRefused('Only an acknowledged file can have its acknowledgement undone.');
    await new FileLedger(this.em).transition(
      id,
      'UNACKNOWLEDGED',
      {
        eventKey: `web:undo-ack:${id}:${randomUUID()}`,
        type: 'ACK_UNDONE',
        message: `${this.actor} undid the acknowledgement: ${reason}`,
        detail: { previousAcknowledgedAt: row.acknowledgedAt?.toISOString() ?? null, reason },
        actor: this.actor,
      },
      { acknowledgedAt: null, stateReason: `Acknowledgement undone by ${this.actor}: ${reason}. The workflow had already ended.` },
    );
    // Idempotent, so a failure here is mended by the next scan or by hand; the ledger's write above is the record.
    await this.em.nativeUpdate(Receipt, { resultFileId: id, first: true }, { first: false });
  }
}
