import { Migration } from '@mikro-orm/migrations';
import { chainedFieldsOf, eventHash, GENESIS_HASH, RAW_EVENT_COLUMNS, type RawEventRow } from '../audit-chain';

const BATCH = 10_000;

/**
 * The event trail becomes a hash chain (docs/audit.md): `seq`, `prev_hash` and `hash` on file_event, back-filled for
 * the existing rows in id order from a genesis prev_hash of 64 zeros, then made required. A trigger refuses UPDATE,
 * DELETE and TRUNCATE of file_event. The ALTER TABLE holds file_event exclusively until this migration commits, so
 * no event is written half-way through the back-fill (stop the old workers before upgrading: they write no hash).
 */
export class Migration0004EventHashChain extends Migration {
  override async up(): Promise<void> {
    await this.execute(`alter table "file_event" add column "seq" bigint null, add column "prev_hash" varchar(64) null, add column "hash" varchar(64) null;`);
    await this.backfill();
    await this.execute(
      `alter table "file_event" alter column "seq" set not null, alter column "prev_hash" set not null, alter column "hash" set not null;`,
    );
    await this.execute(`alter table "file_event" add constraint "file_event_seq_unique" unique ("seq");`);
    await this.execute(`create or replace function "file_event_append_only"() returns trigger language plpgsql as $$
begin
  raise exception 'file_event is append-only (the audit trail): % refused; see docs/audit.md', tg_op
    using errcode = 'insufficient_privilege';
end $$;`);
    await this.execute(
      `create trigger "file_event_append_only" before update or delete on "file_event" for each row execute function "file_event_append_only"();`,
    );
    await this.execute(
      `create trigger "file_event_no_truncate" before truncate on "file_event" for each statement execute function "file_event_append_only"();`,
    );
  }

  /** Chains the existing rows in id order, 10 000 per round trip. */
  private async backfill(): Promise<void> {
    let lastId = '0';
    let seq = 0;
    let prevHash = GENESIS_HASH;
    for (;;) {
      const rows = (await this.execute(`select ${RAW_EVENT_COLUMNS} from "file_event" e where e.id > ? order by e.id limit ?`, [
        lastId,
        BATCH,
      ])) as RawEventRow[];
      if (!rows.length) return;
      const links = rows.map((row) => {
        seq += 1;
        const hash = eventHash(prevHash, chainedFieldsOf(row, seq));
        const link = { id: row.id, seq, prev_hash: prevHash, hash };
        prevHash = hash;
        return link;
      });
      await this.execute(
        `update "file_event" as f set "seq" = v.seq, "prev_hash" = v.prev_hash, "hash" = v.hash
         from jsonb_to_recordset(?::jsonb) as v(id bigint, seq bigint, prev_hash text, hash text) where f.id = v.id`,
        [JSON.stringify(links)],
      );
      lastId = rows[rows.length - 1].id;
    }
  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger if exists "file_event_no_truncate" on "file_event";`);
    this.addSql(`drop trigger if exists "file_event_append_only" on "file_event";`);
    this.addSql(`drop function if exists "file_event_append_only"();`);
    this.addSql(`alter table "file_event" drop constraint if exists "file_event_seq_unique";`);
    this.addSql(`alter table "file_event" drop column if exists "hash", drop column if exists "prev_hash", drop column if exists "seq";`);
  }
}
