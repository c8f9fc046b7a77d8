import { Migration } from '@mikro-orm/migrations';

/**
 * The file list, newest first, within one state or clinic folder: with a million files, a deep page of a rare state or
 * of one clinic walked (uploaded_at, id) filtering most rows out (bench/search.mjs). The clinic filter is resolved to
 * the matching folder names first (src/web/result-files/file-query.ts), so both are equality filters a btree serves in order.
 */
export class Migration0006ListByStateAndClinic extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create index "result_file_state_uploaded_at_id_index" on "result_file" ("state", "uploaded_at" desc, "id" desc);`);
    this.addSql(`create index "result_file_clinic_folder_uploaded_at_id_index" on "result_file" ("clinic_folder", "uploaded_at" desc, "id" desc);`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists "result_file_clinic_folder_uploaded_at_id_index";`);
    this.addSql(`drop index if exists "result_file_state_uploaded_at_id_index";`);
  }
}
