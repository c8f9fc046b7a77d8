/**
 * `getresults restore --from DIR`: puts a backup (src/backup/manifest.ts) back on a fresh system, at the same paths.
 * Paths are recorded in the database (archive paths) and in Temporal's workflow state (an upload waiting for its folder
 * mapping), so files go back where they were: restore a machine as it was, not somewhere else. Everything is checked
 * against the manifest's hashes before anything is written, and nothing that exists is overwritten.
 */
import { createReadStream, existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Config } from '../config/config';
import { migrate, openOrm } from '../db/orm';
import { MIGRATIONS } from '../db/migrations';
import { sha256OfFile } from '../disk/hash';
import { embeddedTemporalDb, foldersOf, payloadKeysFileOf } from './backup';
import { BACKUP_FORMAT, type BackedUpFile, type BackupManifest } from './manifest';

export async function readManifest(dir: string): Promise<BackupManifest> {
  const file = path.join(dir, 'manifest.json');
  if (!existsSync(file)) throw new Error(`${dir} holds no manifest.json: it is not a getresults backup.`);
  const parsed = JSON.parse(await readFile(file, 'utf8')) as { format?: unknown };
  if (parsed.format !== BACKUP_FORMAT) throw new Error(`${dir} is a backup of format ${JSON.stringify(parsed.format)}; this version reads ${BACKUP_FORMAT}.`);
  return parsed as BackupManifest;
}

/** Every file the manifest lists, with its size and SHA-256 as recorded: a damaged backup is refused whole. */
export async function verifyBackup(dir: string, manifest: BackupManifest): Promise<{ files: number }> {
  const listed: BackedUpFile[] = [
    ...manifest.tables,
    ...manifest.folders.flatMap((f) => f.files),
    ...(manifest.payloadKeys ? [manifest.payloadKeys] : []),
    ...(manifest.temporal.kind === 'embedded' ? [manifest.temporal] : []),
  ];
  for (const file of listed) {
    const at = path.join(dir, file.path);
    if (!existsSync(at)) throw new Error(`The backup is incomplete: ${file.path} is missing.`);
    if ((await sha256OfFile(at)) !== file.sha256) throw new Error(`The backup is damaged: ${file.path} does not have the SHA-256 its manifest records.`);
  }
  return { files: listed.length };
}

async function isEmptyOrMissing(dir: string): Promise<boolean> {
  return !existsSync(dir) || (await readdir(dir)).length === 0;
}

/** Why this system is not a fresh one to restore onto, or which paths differ from the backup's; empty when it is fine. */
async function refusals(config: Config, manifest: BackupManifest): Promise<string[]> {
  const problems: string[] = [];
  const folders = foldersOf(config);
  for (const folder of manifest.folders) {
    if (folders[folder.role] !== folder.location) {
      problems.push(`the ${folder.role} folder was ${folder.location} and is ${folders[folder.role] ?? 'not a local folder'} here (set the same GETRESULTS_DATA_DIR or folder settings)`);
    } else if (!(await isEmptyOrMissing(folder.location))) {
      problems.push(`${folder.location} is not empty`);
    }
  }
  if (manifest.temporal.kind === 'embedded') {
    if (config.temporal.address) problems.push(`the backup holds an embedded Temporal, but TEMPORAL_ADDRESS is set here`);
    else if (embeddedTemporalDb(config) !== manifest.temporal.location) problems.push(`Temporal's database was ${manifest.temporal.location} and would be ${embeddedTemporalDb(config)} here`);
    else if (existsSync(manifest.temporal.location)) problems.push(`${manifest.temporal.location} exists (stop getresults and move it away first)`);
  }
  const keys = payloadKeysFileOf(config);
  if (manifest.payloadKeys && keys && existsSync(keys)) {
    if ((await sha256OfFile(keys)) !== manifest.payloadKeys.sha256) problems.push(`${keys} exists and holds other keys than the backup's`);
  }
  const unknown = manifest.migrations.filter((m) => !MIGRATIONS.some((known) => known.name === m));
  if (unknown.length > 0) problems.push(`the backup comes from a newer version (migrations ${unknown.join(', ')}): install that version to restore it`);
  return problems;
}

export interface RestoreOutcome {
  tables: number;
  rows: number;
  files: number;
  migratedAfter: string[];
}

/** Restores `dir` onto this (fresh) system: Temporal's database, the keys, the files, then the database rows. */
export async function restore(config: Config, databaseUrl: string, dir: string): Promise<RestoreOutcome> {
  const manifest = await readManifest(dir);
  await verifyBackup(dir, manifest);
  const problems = await refusals(config, manifest);
  if (problems.length > 0) throw new Error(`Not restored, nothing was changed: ${problems.join('; ')}.`);

  // The database first checked, so a refusal there also changes nothing.
  const last = manifest.migrations.at(-1);
  const orm = await openOrm(databaseUrl);
  let migratedAfter: string[];
  try {
    const sql = orm.em.fork().getConnection();
    const [{ exists } = { exists: false }] = await sql.execute<Array<{ exists: boolean }>>(`select to_regclass('public.result_file') is not null as exists`);
    const files = exists ? Number((await sql.execute<Array<{ n: string }>>('select count(*) as n from result_file'))[0]?.n ?? 0) : 0;
    if (files > 0) throw new Error(`Not restored, nothing was changed: the database at DATABASE_URL already holds ${files} file(s); restore into an empty one.`);
    // Exactly the backup's schema, so its rows fit; the rest of the migrations run after they are in.
    if (last) await orm.getMigrator().up({ to: last });
    const applied = (await orm.getMigrator().getExecutedMigrations()).map((m) => m.name);
    if (applied.join() !== manifest.migrations.join()) {
      throw new Error(`Not restored, nothing was changed: the database is migrated past the backup's version (${applied.at(-1) ?? 'none'} against ${last ?? 'none'}); restore into an empty database.`);
    }

    if (manifest.temporal.kind === 'embedded') {
      await mkdir(path.dirname(manifest.temporal.location), { recursive: true });
      await copyFile(path.join(dir, manifest.temporal.path), manifest.temporal.location);
    }
    if (manifest.payloadKeys && !existsSync(manifest.payloadKeys.location)) {
      await mkdir(path.dirname(manifest.payloadKeys.location), { recursive: true });
      await copyFile(path.join(dir, manifest.payloadKeys.path), manifest.payloadKeys.location);
    }
    let fileCount = 0;
    for (const folder of manifest.folders) {
      await mkdir(folder.location, { recursive: true });
      for (const file of folder.files) {
        const to = path.join(folder.location, path.relative(path.join('files', folder.role), file.path));
        await mkdir(path.dirname(to), { recursive: true });
        await copyFile(path.join(dir, file.path), to);
        fileCount++;
      }
    }

    const client = new Client({ connectionString: databaseUrl });
    await client.connect();
    let rows = 0;
    try {
      await client.query('begin');
      for (const table of manifest.tables) {
        // Rows a migration seeded (the lab `default`) give way to the backup's own. The event trail is append-only
        // and empty in a fresh database.
        if (table.table !== 'file_event') await client.query(`delete from "${table.table}"`);
        await pipeline(createReadStream(path.join(dir, table.path)), client.query(copyFrom(`copy "${table.table}" from stdin`)));
        rows += table.rows;
      }
      // Sequences continue after the restored rows.
      const serials = await client.query<{ table_name: string; column_name: string }>(
        `select table_name, column_name from information_schema.columns where table_schema = 'public' and column_default like 'nextval(%'`,
      );
      for (const s of serials.rows) {
        await client.query(
          `select setval(pg_get_serial_sequence($1, $2), coalesce((select max("${s.column_name}") from "${s.table_name}"), 1), (select count(*) > 0 from "${s.table_name}"))`,
          [`"${s.table_name}"`, s.column_name],
        );
      }
      await client.query('commit');
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      throw err;
    } finally {
      await client.end();
    }
    migratedAfter = await migrate(orm);
    return { tables: manifest.tables.length, rows, files: fileCount, migratedAfter };
  } finally {
    await orm.close();
  }
}
