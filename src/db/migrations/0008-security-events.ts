import { Migration } from '@mikro-orm/migrations';

/** Refused messages that belong to no known file (src/db/entities/security-event.ts). */
export class Migration0008SecurityEvents extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "security_event" ("id" bigserial primary key, "event_key" varchar(200) not null, "type" varchar(48) not null, "workflow_id" varchar(255) not null, "run_id" varchar(64) not null, "message" text not null, "at" timestamptz not null);`);
    this.addSql(`alter table "security_event" add constraint "security_event_event_key_unique" unique ("event_key");`);
    this.addSql(`create index "security_event_at_index" on "security_event" ("at");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "security_event" cascade;`);
  }
}
