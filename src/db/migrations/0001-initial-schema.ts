import { Migration } from '@mikro-orm/migrations';

/** Result files, their event trail, the remote-folder table and acknowledgements. */
export class Migration0001InitialSchema extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "remote_folder" ("id" serial primary key, "label" varchar(32) not null, "folder_tag" varchar(32) not null, "folder" varchar(255) not null, "base_path" varchar(255) not null, "created_at" timestamptz not null, "updated_at" timestamptz not null);`);
    this.addSql(`alter table "remote_folder" add constraint "remote_folder_label_folder_tag_unique" unique ("label", "folder_tag");`);

    this.addSql(`create table "result_file" ("id" bigserial primary key, "workflow_id" varchar(100) not null, "run_id" varchar(64) not null, "file_name" varchar(1024) not null, "upload_path" text not null, "size_bytes" bigint not null, "sha256" varchar(64) not null, "identifier" varchar(255) null, "label" varchar(32) null, "hint" varchar(32) null, "clinic_folder" varchar(255) null, "state" text check ("state" in ('RECEIVED', 'REJECTED', 'NEEDS_FOLDER', 'TRANSFER_BLOCKED', 'SENT', 'AWAITING_ACK', 'ACKNOWLEDGED', 'UNACKNOWLEDGED', 'DUPLICATE', 'SUPERSEDED')) not null, "state_reason" text null, "rejection_code" varchar(64) null, "remote_path" text null, "archive_path" text null, "duplicate_of" bigint null, "uploaded_by" varchar(255) null, "uploaded_at" timestamptz not null, "sent_at" timestamptz null, "acknowledged_at" timestamptz null, "updated_at" timestamptz not null);`);
    this.addSql(`alter table "result_file" add constraint "result_file_run_id_unique" unique ("run_id");`);
    this.addSql(`create index "result_file_sha256_index" on "result_file" ("sha256");`);
    this.addSql(`create index "result_file_identifier_index" on "result_file" ("identifier");`);
    this.addSql(`create index "result_file_state_index" on "result_file" ("state");`);
    this.addSql(`create index "result_file_uploaded_at_index" on "result_file" ("uploaded_at");`);
    // The permanent de-duplication record: at most one live delivery per content, whatever Temporal's retention.
    this.addSql(`create unique index "result_file_one_delivery_per_sha256" on "result_file" ("sha256") where "state" not in ('REJECTED', 'DUPLICATE', 'SUPERSEDED');`);

    this.addSql(`create table "file_event" ("id" bigserial primary key, "result_file_id" bigint not null, "event_key" varchar(160) not null, "type" varchar(48) not null, "state" varchar(32) null, "message" text not null, "detail" jsonb null, "actor" varchar(255) not null default 'system', "at" timestamptz not null);`);
    this.addSql(`create index "file_event_result_file_id_index" on "file_event" ("result_file_id");`);
    this.addSql(`alter table "file_event" add constraint "file_event_event_key_unique" unique ("event_key");`);

    this.addSql(`create table "acknowledgement" ("id" bigserial primary key, "result_file_id" bigint null, "remote_path" text not null, "accessed_at" timestamptz not null, "client" varchar(255) not null, "request_line" text not null, "status" int null, "bytes" bigint null, "first" boolean not null default false, "evidence_key" varchar(200) not null, "recorded_at" timestamptz not null);`);
    this.addSql(`create index "acknowledgement_result_file_id_index" on "acknowledgement" ("result_file_id");`);
    this.addSql(`alter table "acknowledgement" add constraint "acknowledgement_evidence_key_unique" unique ("evidence_key");`);
  }

  override async down(): Promise<void> {
    for (const table of ['acknowledgement', 'file_event', 'result_file', 'remote_folder']) {
      this.addSql(`drop table if exists "${table}" cascade;`);
    }
  }
}
