import { Client } from 'pg';
import { migrate, openOrm, type Orm } from '../../src/db/orm';
import { createTestDatabase, type TestDatabase } from '../harness/database';

/**
 * The entities and the hand-written migrations describe one schema. A column, index, constraint or foreign key added to
 * one and not the other fails here, not in a deployment: the database `migrate` builds must be the one MikroORM's schema
 * generator would build from the entities.
 */

/** Options right for a database managed by migrations: report everything, drops and unknown tables included. */
const COMPARE = { wrap: false, safe: false, dropTables: true } as const;

/**
 * What the migrations create that entities cannot describe. MikroORM 6.6 reads neither triggers, functions nor
 * extensions from the database, so the generator cannot report them either way: they are checked here by name instead,
 * and a new one must be added to this list (with the migration that makes it).
 */
const OUTSIDE_ENTITIES = {
  // The audit trail is append-only (0004, docs/audit.md).
  triggers: ['file_event.file_event_append_only', 'file_event.file_event_no_truncate'],
  functions: ['file_event_append_only'],
  // For the trigram indexes declared on ResultFile (0002).
  extensions: ['pg_trgm'],
};

let migrated: TestDatabase;
let fromEntities: TestDatabase;
let orm: Orm;
let entityOrm: Orm;

beforeAll(async () => {
  [migrated, fromEntities] = await Promise.all([createTestDatabase(), createTestDatabase()]);
  orm = await openOrm(migrated.url);
  await migrate(orm);
  // The same schema built from the entities alone, to compare what the generator compares loosely (below).
  entityOrm = await openOrm(fromEntities.url);
  await entityOrm.em.getConnection().execute('create extension if not exists pg_trgm');
  await entityOrm.schema.createSchema();
});

afterAll(async () => {
  await orm?.close(true);
  await entityOrm?.close(true);
  await Promise.all([migrated?.drop(), fromEntities?.drop()]);
});

async function query<R>(url: string, sql: string): Promise<R[]> {
  const pg = new Client({ connectionString: url });
  await pg.connect();
  try {
    return (await pg.query(sql)).rows as R[];
  } finally {
    await pg.end();
  }
}

describe('the schema after migrate', () => {
  it('is the one the entities describe: the schema generator finds nothing to change', async () => {
    // pg_trgm is optional in production (0002 skips the trigram indexes without it) but needed for this comparison.
    const [trgm] = await query<{ n: number }>(migrated.url, `select count(*)::int as n from pg_extension where extname = 'pg_trgm'`);
    expect({ pgTrgmInstalled: trgm!.n === 1 }).toEqual({ pgTrgmInstalled: true });

    const { up, down } = await orm.schema.getUpdateSchemaMigrationSQL(COMPARE);
    expect(up.trim()).toBe('');
    expect(down.trim()).toBe('');
  });

  it('has the same index definitions as a schema built from the entities', async () => {
    // The generator compares indexes given as SQL (partial, descending, GIN) by name only: compare them whole here,
    // as PostgreSQL itself renders them.
    const indexes = (url: string) =>
      query<{ indexname: string; indexdef: string }>(
        url,
        `select indexname, indexdef from pg_indexes where schemaname = 'public' and tablename <> 'mikro_orm_migrations' order by indexname`,
      );
    expect(await indexes(migrated.url)).toEqual(await indexes(fromEntities.url));
  });

  it('has the same columns and constraints as a schema built from the entities', async () => {
    // Belt and braces for the generator's own normalising of types and defaults: PostgreSQL's rendering, compared whole.
    // Not the column order: a column a later migration adds comes last, wherever the entity lists it.
    const columns = (url: string) =>
      query<Record<string, unknown>>(
        url,
        `select table_name, column_name, data_type, character_maximum_length, is_nullable, column_default
         from information_schema.columns where table_schema = 'public' and table_name <> 'mikro_orm_migrations'
         order by table_name, column_name`,
      );
    const constraints = (url: string) =>
      query<Record<string, unknown>>(
        url,
        `select conrelid::regclass::text as table_name, conname, pg_get_constraintdef(oid) as definition from pg_constraint
         where connamespace = 'public'::regnamespace and conrelid::regclass::text <> 'mikro_orm_migrations' order by table_name, conname`,
      );
    expect(await columns(migrated.url)).toEqual(await columns(fromEntities.url));
    expect(await constraints(migrated.url)).toEqual(await constraints(fromEntities.url));
  });

  it('holds exactly the triggers, functions and extensions that entities cannot describe', async () => {
    const triggers = await query<{ name: string }>(
      migrated.url,
      `select c.relname || '.' || t.tgname as name from pg_trigger t join pg_class c on c.oid = t.tgrelid
       join pg_namespace n on n.oid = c.relnamespace where not t.tgisinternal and n.nspname = 'public' order by name`,
    );
    const functions = await query<{ name: string }>(
      migrated.url,
      // Functions an extension brings (pg_trgm's) belong to it, not to the migrations.
      `select p.proname as name from pg_proc p join pg_namespace n on n.oid = p.pronamespace
       where n.nspname = 'public' and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e') order by name`,
    );
    const extensions = await query<{ name: string }>(migrated.url, `select extname as name from pg_extension where extname <> 'plpgsql' order by name`);
    expect({
      triggers: triggers.map((r) => r.name),
      functions: functions.map((r) => r.name),
      extensions: extensions.map((r) => r.name),
    }).toEqual(OUTSIDE_ENTITIES);
  });
});
