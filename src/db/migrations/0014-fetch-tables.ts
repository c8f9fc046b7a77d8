import { Migration } from '@mikro-orm/migrations';

/**
 * One table per kind of recorded fetch (issue 15, src/db/entities/fetches.ts): `acknowledgement` held the receipts
 * and, with no file, the unknown fetches; it becomes `receipt`, the unknown fetches move to `unknown_fetch`, and
 * `foreign_access` becomes `foreign_fetch`. Rows keep their values; indexes and constraints are renamed with their
 * tables, as the entities name them.
 */
export class Migration0014FetchTables extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "acknowledgement" rename to "receipt";`);
    this.addSql(`alter sequence "acknowledgement_id_seq" rename to "receipt_id_seq";`);
    this.addSql(`alter table "receipt" rename constraint "acknowledgement_pkey" to "receipt_pkey";`);
    this.addSql(`alter table "receipt" rename constraint "acknowledgement_evidence_key_unique" to "receipt_evidence_key_unique";`);
    this.addSql(`alter index "acknowledgement_remote_path_index" rename to "receipt_remote_path_index";`);
    this.addSql(`alter index "acknowledgement_result_file_id_index" rename to "receipt_result_file_id_index";`);

    this.addSql(
      `create table "unknown_fetch" ("id" bigserial primary key, "remote_path" text not null, "accessed_at" timestamptz not null, "client" varchar(255) not null, "remote_user" varchar(255) null, "request_line" text not null, "status" int null, "bytes" bigint null, "evidence_key" varchar(200) not null, "recorded_at" timestamptz not null);`,
    );
    this.addSql(`alter table "unknown_fetch" add constraint "unknown_fetch_evidence_key_unique" unique ("evidence_key");`);
    this.addSql(`create index "unknown_fetch_remote_path_index" on "unknown_fetch" ("remote_path");`);
    this.addSql(`create index "unknown_fetch_accessed_at_index" on "unknown_fetch" ("accessed_at");`);
    this.addSql(
      `insert into "unknown_fetch" ("remote_path", "accessed_at", "client", "remote_user", "request_line", "status", "bytes", "evidence_key", "recorded_at")
       select "remote_path", "accessed_at", "client", "remote_user", "request_line", "status", "bytes", "evidence_key", "recorded_at" from "receipt" where "result_file_id" is null order by "id";`,
    );
    this.addSql(`delete from "receipt" where "result_file_id" is null;`);
    this.addSql(`alter table "receipt" alter column "result_file_id" set not null;`);

    this.addSql(`alter table "foreign_access" rename to "foreign_fetch";`);
    this.addSql(`alter sequence "foreign_access_id_seq" rename to "foreign_fetch_id_seq";`);
    this.addSql(`alter table "foreign_fetch" rename constraint "foreign_access_pkey" to "foreign_fetch_pkey";`);
    this.addSql(`alter table "foreign_fetch" rename constraint "foreign_access_evidence_key_unique" to "foreign_fetch_evidence_key_unique";`);
    this.addSql(`alter index "foreign_access_accessed_at_index" rename to "foreign_fetch_accessed_at_index";`);
    this.addSql(`alter index "foreign_access_result_file_id_index" rename to "foreign_fetch_result_file_id_index";`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter index "foreign_fetch_result_file_id_index" rename to "foreign_access_result_file_id_index";`);
    this.addSql(`alter index "foreign_fetch_accessed_at_index" rename to "foreign_access_accessed_at_index";`);
    this.addSql(`alter table "foreign_fetch" rename constraint "foreign_fetch_evidence_key_unique" to "foreign_access_evidence_key_unique";`);
    this.addSql(`alter table "foreign_fetch" rename constraint "foreign_fetch_pkey" to "foreign_access_pkey";`);
    this.addSql(`alter sequence "foreign_fetch_id_seq" rename to "foreign_access_id_seq";`);
    this.addSql(`alter table "foreign_fetch" rename to "foreign_access";`);

    this.addSql(`alter table "receipt" alter column "result_file_id" drop not null;`);
    this.addSql(
      `insert into "receipt" ("result_file_id", "remote_path", "accessed_at", "client", "remote_user", "request_line", "status", "bytes", "first", "evidence_key", "recorded_at")
       select null, "remote_path", "accessed_at", "client", "remote_user", "request_line", "status", "bytes", false, "evidence_key", "recorded_at" from "unknown_fetch" order by "id";`,
    );
    this.addSql(`drop table "unknown_fetch";`);
    this.addSql(`alter index "receipt_result_file_id_index" rename to "acknowledgement_result_file_id_index";`);
    this.addSql(`alter index "receipt_remote_path_index" rename to "acknowledgement_remote_path_index";`);
    this.addSql(`alter table "receipt" rename constraint "receipt_evidence_key_unique" to "acknowledgement_evidence_key_unique";`);
    this.addSql(`alter table "receipt" rename constraint "receipt_pkey" to "acknowledgement_pkey";`);
    this.addSql(`alter sequence "receipt_id_seq" rename to "acknowledgement_id_seq";`);
    this.addSql(`alter table "receipt" rename to "acknowledgement";`);
  }
}
