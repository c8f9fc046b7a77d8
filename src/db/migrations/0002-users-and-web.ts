import { Migration } from '@mikro-orm/migrations';

/** Web page: users, sessions, refused logins, uploads made through the page, and indexes for the file list. */
export class Migration0002UsersAndWeb extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "app_user" ("id" serial primary key, "username" varchar(64) not null, "password_hash" text not null, "role" text check ("role" in ('technician', 'admin')) not null default 'technician', "disabled" boolean not null default false, "created_at" timestamptz not null, "password_changed_at" timestamptz not null);`);
    this.addSql(`alter table "app_user" add constraint "app_user_username_unique" unique ("username");`);

    this.addSql(`create table "web_session" ("token_hash" varchar(64) not null primary key, "user_id" int not null references "app_user" ("id") on delete cascade, "created_at" timestamptz not null, "expires_at" timestamptz not null, "ip" varchar(64) null);`);
    this.addSql(`create index "web_session_user_id_index" on "web_session" ("user_id");`);
    this.addSql(`create index "web_session_expires_at_index" on "web_session" ("expires_at");`);

    this.addSql(`create table "login_failure" ("id" bigserial primary key, "username" varchar(64) not null, "ip" varchar(64) not null, "at" timestamptz not null);`);
    this.addSql(`create index "login_failure_username_ip_at_index" on "login_failure" ("username", "ip", "at");`);

    this.addSql(`create table "web_upload" ("id" bigserial primary key, "username" varchar(64) not null, "file_name" varchar(1024) not null, "sha256" varchar(64) not null, "size_bytes" bigint not null, "uploaded_at" timestamptz not null);`);
    this.addSql(`create index "web_upload_username_index" on "web_upload" ("username");`);
    this.addSql(`create index "web_upload_file_name_index" on "web_upload" ("file_name");`);
    this.addSql(`create index "web_upload_sha256_index" on "web_upload" ("sha256");`);
    this.addSql(`create index "web_upload_uploaded_at_index" on "web_upload" ("uploaded_at");`);

    // The file list filters on these and the dashboard counts by day of sending and of acknowledgement.
    this.addSql(`create index "result_file_clinic_folder_index" on "result_file" ("clinic_folder");`);
    this.addSql(`create index "result_file_uploaded_by_index" on "result_file" ("uploaded_by");`);
    this.addSql(`create index "result_file_file_name_index" on "result_file" ("file_name");`);
    this.addSql(`create index "result_file_sent_at_index" on "result_file" ("sent_at") where "sent_at" is not null;`);
    this.addSql(`create index "result_file_acknowledged_at_index" on "result_file" ("acknowledged_at") where "acknowledged_at" is not null;`);
    this.addSql(`create index "result_file_uploaded_at_id_index" on "result_file" ("uploaded_at" desc, "id" desc);`);
    this.addSql(`create index "file_event_result_file_id_at_index" on "file_event" ("result_file_id", "at");`);

    // Search is "contains" (ILIKE '%q%'), which only trigram indexes serve. pg_trgm ships with PostgreSQL (contrib) and
    // is trusted since PG 13, so a database owner may create it; where it is missing or refused the list still works,
    // by a sequential scan, and the migration does not fail.
    this.addSql(`do $$
begin
  if exists (select 1 from pg_available_extensions where name = 'pg_trgm') then
    begin
      create extension if not exists pg_trgm;
      create index "result_file_file_name_trgm" on "result_file" using gin ("file_name" gin_trgm_ops);
      create index "result_file_identifier_trgm" on "result_file" using gin ("identifier" gin_trgm_ops);
    exception when insufficient_privilege or feature_not_supported or undefined_file then
      raise notice 'pg_trgm unavailable (%); file search runs without a trigram index', sqlerrm;
    end;
  end if;
end $$;`);
  }

  override async down(): Promise<void> {
    for (const index of [
      'result_file_file_name_trgm',
      'result_file_identifier_trgm',
      'result_file_clinic_folder_index',
      'result_file_uploaded_by_index',
      'result_file_file_name_index',
      'result_file_sent_at_index',
      'result_file_acknowledged_at_index',
      'result_file_uploaded_at_id_index',
      'file_event_result_file_id_at_index',
    ]) {
      this.addSql(`drop index if exists "${index}";`);
    }
    for (const table of ['web_upload', 'login_failure', 'web_session', 'app_user']) this.addSql(`drop table if exists "${table}" cascade;`);
  }
}
