import { Migration } from '@mikro-orm/migrations';

/**
 * A file can be withdrawn (issue 12): the state WITHDRAWN, and a withdrawn file is no live delivery of its content, so
 * the same content may be sent again later.
 */
export class Migration0010WithdrawnState extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "result_file" drop constraint if exists "result_file_state_check";`);
    this.addSql(
      `alter table "result_file" add constraint "result_file_state_check" check ("state" in ('RECEIVED', 'REJECTED', 'NEEDS_FOLDER', 'TRANSFER_BLOCKED', 'SENT', 'AWAITING_ACK', 'ACKNOWLEDGED', 'UNACKNOWLEDGED', 'DUPLICATE', 'SUPERSEDED', 'WITHDRAWN'));`,
    );
    this.addSql(`drop index if exists "result_file_one_delivery_per_sha256";`);
    this.addSql(`create unique index "result_file_one_delivery_per_sha256" on "result_file" ("sha256") where "state" not in ('REJECTED', 'DUPLICATE', 'SUPERSEDED', 'WITHDRAWN');`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists "result_file_one_delivery_per_sha256";`);
    this.addSql(`create unique index "result_file_one_delivery_per_sha256" on "result_file" ("sha256") where "state" not in ('REJECTED', 'DUPLICATE', 'SUPERSEDED');`);
    this.addSql(`alter table "result_file" drop constraint if exists "result_file_state_check";`);
    this.addSql(
      `alter table "result_file" add constraint "result_file_state_check" check ("state" in ('RECEIVED', 'REJECTED', 'NEEDS_FOLDER', 'TRANSFER_BLOCKED', 'SENT', 'AWAITING_ACK', 'ACKNOWLEDGED', 'UNACKNOWLEDGED', 'DUPLICATE', 'SUPERSEDED'));`,
    );
  }
}
