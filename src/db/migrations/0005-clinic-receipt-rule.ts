import { Migration } from '@mikro-orm/migrations';

/**
 * The optional per-clinic receipt rule (allowed clients and users per clinic folder), the fetches it did not accept
 * (kept as evidence), their counter on each scan run, and the `%u` user on acknowledgements.
 */
export class Migration0005ClinicReceiptRule extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "folder_receipt_rule" ("id" serial primary key, "clinic_folder" varchar(600) not null, "allowed_clients" jsonb not null, "allowed_users" jsonb not null, "updated_by" varchar(255) null, "updated_at" timestamptz not null);`);
    this.addSql(`alter table "folder_receipt_rule" add constraint "folder_receipt_rule_clinic_folder_unique" unique ("clinic_folder");`);
    this.addSql(`create table "foreign_access" ("id" bigserial primary key, "result_file_id" bigint not null, "clinic_folder" varchar(600) not null, "remote_path" text not null, "accessed_at" timestamptz not null, "client" varchar(255) not null, "remote_user" varchar(255) null, "request_line" text not null, "status" int null, "bytes" bigint null, "reason" text not null, "evidence_key" varchar(200) not null, "recorded_at" timestamptz not null);`);
    this.addSql(`create index "foreign_access_result_file_id_index" on "foreign_access" ("result_file_id");`);
    this.addSql(`create index "foreign_access_accessed_at_index" on "foreign_access" ("accessed_at");`);
    this.addSql(`alter table "foreign_access" add constraint "foreign_access_evidence_key_unique" unique ("evidence_key");`);
    this.addSql(`alter table "log_scan_run" add column "foreign_hits" int not null default 0;`);
    this.addSql(`alter table "acknowledgement" add column "remote_user" varchar(255) null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "acknowledgement" drop column if exists "remote_user";`);
    this.addSql(`alter table "log_scan_run" drop column if exists "foreign_hits";`);
    this.addSql(`drop table if exists "foreign_access" cascade;`);
    this.addSql(`drop table if exists "folder_receipt_rule" cascade;`);
  }
}
