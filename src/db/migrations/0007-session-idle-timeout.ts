import { Migration } from '@mikro-orm/migrations';

/** Sessions also end after a while without use (GETRESULTS_SESSION_IDLE_MINUTES): when each was last seen. */
export class Migration0007SessionIdleTimeout extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "web_session" add column "last_seen_at" timestamptz null;`);
    this.addSql(`update "web_session" set "last_seen_at" = "created_at";`);
    this.addSql(`alter table "web_session" alter column "last_seen_at" set not null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "web_session" drop column "last_seen_at";`);
  }
}
