import { Migration } from '@mikro-orm/migrations';

/**
 * Files between the web page and upload hosts on other machines (issue 13): archived PDFs shown by a page that is not
 * beside the host holding them, and web uploads for a host whose upload folder the page cannot write. See
 * src/db/entities/file-handover.ts.
 */
export class Migration0012FileHandover extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "file_handover" ("id" uuid not null, "direction" varchar(8) not null, "result_file_id" bigint null, "file_name" varchar(1024) not null, "sha256" varchar(64) not null, "content" bytea not null, "created_at" timestamptz not null, constraint "file_handover_pkey" primary key ("id"));`,
    );
    this.addSql(`create index "file_handover_created_at_index" on "file_handover" ("created_at");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table "file_handover";`);
  }
}
