import { Migration } from '@mikro-orm/migrations';

/** Who changed the remote-folder table on the web page (src/remote-folders/entities.ts, FolderChange). */
export class Migration0009FolderChanges extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "folder_change" ("id" serial primary key, "at" timestamptz not null, "actor" varchar(255) not null, "action" varchar(16) not null, "label" varchar(32) not null, "folder_tag" varchar(32) not null, "before" text null, "after" text null);`);
    this.addSql(`create index "folder_change_at_index" on "folder_change" ("at");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "folder_change" cascade;`);
  }
}
