import { Migration } from '@mikro-orm/migrations';

/**
 * Labs and upload hosts are first-class (issue 13). A lab owns upload hosts, users and a remote-folder table; every
 * file records the lab it belongs to and the upload host that holds it (original, archive, rejected copy).
 *
 * Today's single-lab data moves into the lab `default`: every file, folder row and technician. Admins become admins
 * of the whole deployment (no lab), so a single-lab installation keeps seeing everything it saw. Files received before
 * this migration record no host (null): the web page looks for them on its own host, as it always did.
 */
export class Migration0011LabsAndHosts extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "lab" ("id" serial primary key, "name" varchar(64) not null, "title" varchar(255) not null, "folders_of_lab_id" int null, "created_at" timestamptz not null);`,
    );
    this.addSql(`alter table "lab" add constraint "lab_name_unique" unique ("name");`);
    this.addSql(`insert into "lab" ("name", "title", "created_at") values ('default', 'Default lab', now());`);

    this.addSql(
      `create table "upload_host" ("name" varchar(100) not null, "lab_id" int not null, "registered_at" timestamptz not null, "last_started_at" timestamptz not null, "retired_at" timestamptz null, constraint "upload_host_pkey" primary key ("name"));`,
    );
    this.addSql(`create index "upload_host_lab_id_index" on "upload_host" ("lab_id");`);

    const defaultLab = `(select "id" from "lab" where "name" = 'default')`;
    for (const table of ['result_file', 'remote_folder', 'web_upload']) {
      this.addSql(`alter table "${table}" add column "lab_id" int null;`);
      this.addSql(`update "${table}" set "lab_id" = ${defaultLab};`);
      this.addSql(`alter table "${table}" alter column "lab_id" set not null;`);
    }
    this.addSql(`alter table "result_file" add column "upload_host" varchar(100) null;`);
    // The file list of one lab, newest first: the same shape as the whole list's index (0002).
    this.addSql(`create index "result_file_lab_id_uploaded_at_id_index" on "result_file" ("lab_id", "uploaded_at" desc, "id" desc);`);
    this.addSql(`create index "result_file_upload_host_index" on "result_file" ("upload_host");`);

    // One lab's table may map a hint to a different folder than another's.
    this.addSql(`alter table "remote_folder" drop constraint "remote_folder_label_folder_tag_unique";`);
    this.addSql(`alter table "remote_folder" add constraint "remote_folder_lab_id_label_folder_tag_unique" unique ("lab_id", "label", "folder_tag");`);
    this.addSql(`alter table "folder_change" add column "lab_id" int null;`);
    this.addSql(`update "folder_change" set "lab_id" = ${defaultLab};`);

    this.addSql(`alter table "app_user" add column "lab_id" int null;`);
    this.addSql(`update "app_user" set "lab_id" = ${defaultLab} where "role" <> 'admin';`);
    this.addSql(`create index "app_user_lab_id_index" on "app_user" ("lab_id");`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "web_upload" drop column "lab_id";`);
    this.addSql(`alter table "app_user" drop column "lab_id";`);
    this.addSql(`alter table "folder_change" drop column "lab_id";`);
    this.addSql(`alter table "remote_folder" drop constraint "remote_folder_lab_id_label_folder_tag_unique";`);
    this.addSql(`delete from "remote_folder" where "lab_id" <> (select "id" from "lab" where "name" = 'default');`);
    this.addSql(`alter table "remote_folder" add constraint "remote_folder_label_folder_tag_unique" unique ("label", "folder_tag");`);
    this.addSql(`alter table "remote_folder" drop column "lab_id";`);
    this.addSql(`drop index "result_file_upload_host_index";`);
    this.addSql(`drop index "result_file_lab_id_uploaded_at_id_index";`);
    this.addSql(`alter table "result_file" drop column "upload_host";`);
    this.addSql(`alter table "result_file" drop column "lab_id";`);
    this.addSql(`drop table "upload_host";`);
    this.addSql(`drop table "lab";`);
  }
}
