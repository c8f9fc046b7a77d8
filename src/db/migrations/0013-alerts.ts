import { Migration } from '@mikro-orm/migrations';

/** Alerts the notifier raised and who was told of them (issue 14). See src/db/entities/alert.ts. */
export class Migration0013Alerts extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "alert" ("id" bigserial primary key, "kind" varchar(48) not null, "subject" varchar(300) not null, "period" varchar(16) not null, "lab" varchar(100) null, "summary" text not null, "file_ids" jsonb not null, "raised_at" timestamptz not null);`,
    );
    this.addSql(`create index "alert_raised_at_index" on "alert" ("raised_at");`);
    this.addSql(`alter table "alert" add constraint "alert_kind_subject_period_unique" unique ("kind", "subject", "period");`);
    this.addSql(
      `create table "alert_delivery" ("id" bigserial primary key, "alert_id" bigint not null, "channel" varchar(16) not null, "recipient" text not null, "status" varchar(16) not null, "attempts" int not null default 0, "last_error" text null, "sent_at" timestamptz null, "receipt" varchar(300) null);`,
    );
    this.addSql(`create index "alert_delivery_status_channel_index" on "alert_delivery" ("status", "channel");`);
    this.addSql(`alter table "alert_delivery" add constraint "alert_delivery_alert_id_channel_unique" unique ("alert_id", "channel");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table "alert_delivery";`);
    this.addSql(`drop table "alert";`);
  }
}
