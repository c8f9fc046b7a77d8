import { Migration } from '@mikro-orm/migrations';

/** Cursor and run history of the scheduled access-log scan (proof of receipt). */
export class Migration0003AccessLogScan extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "log_cursor" ("id" serial primary key, "source" varchar(500) not null, "file_identity" varchar(64) not null, "offset" bigint not null, "tail_fingerprint" varchar(64) not null, "updated_at" timestamptz not null);`);
    this.addSql(`alter table "log_cursor" add constraint "log_cursor_source_unique" unique ("source");`);
    this.addSql(`create table "log_scan_run" ("id" bigserial primary key, "workflow_id" varchar(200) not null, "run_id" varchar(64) not null, "source" varchar(500) not null, "started_at" timestamptz not null, "finished_at" timestamptz null, "bytes_read" bigint not null default 0, "lines_read" bigint not null default 0, "hits" int not null default 0, "acknowledged" int not null default 0, "unknown_hits" int not null default 0, "parse_errors" int not null default 0, "error_samples" jsonb null, "notes" jsonb null, "duration_ms" int null);`);
    this.addSql(`alter table "log_scan_run" add constraint "log_scan_run_run_id_unique" unique ("run_id");`);
    this.addSql(`create index "log_scan_run_started_at_index" on "log_scan_run" ("started_at");`);
    // The scan looks delivered files up by where they live on server B.
    this.addSql(`create index "result_file_remote_path_index" on "result_file" ("remote_path");`);
    this.addSql(`create index "acknowledgement_remote_path_index" on "acknowledgement" ("remote_path");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists "acknowledgement_remote_path_index";`);
    this.addSql(`drop index if exists "result_file_remote_path_index";`);
    this.addSql(`drop table if exists "log_scan_run" cascade;`);
    this.addSql(`drop table if exists "log_cursor" cascade;`);
  }
}
