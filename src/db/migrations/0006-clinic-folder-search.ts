import { Migration } from '@mikro-orm/migrations';

/**
 * The file list's clinic filter is free text matched as "contains" (ILIKE '%x%'), which a btree cannot serve: with a
 * million files its count was a sequential scan (bench/search.mjs). A trigram index serves it, as 0002's do the search
 * box; like those it is made only where pg_trgm could be had, and the list still works without it.
 */
export class Migration0006ClinicFolderSearch extends Migration {
  override async up(): Promise<void> {
    this.addSql(`do $$
begin
  if exists (select 1 from pg_extension where extname = 'pg_trgm') then
    create index "result_file_clinic_folder_trgm" on "result_file" using gin ("clinic_folder" gin_trgm_ops);
  else
    raise notice 'pg_trgm not installed; the clinic filter runs without a trigram index';
  end if;
end $$;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists "result_file_clinic_folder_trgm";`);
  }
}
