/**
 * `getresults backup --to DIR`: everything a lab needs to bring this system back, taken while it runs
 * (src/backup/manifest.ts describes the folder). The order matters for a running system: Temporal's state first, then
 * the database, then the files. Every step a workflow takes writes the database idempotently, so a Temporal snapshot a
 * little older than the database only means some steps run again on restore and land once; the reverse order could
 * leave a workflow believing in rows the database never got.
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Client } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { Config } from '../config/config';
import { sha256OfFile } from '../disk/hash';
import { BACKUP_FORMAT, FOLDER_ROLES, TABLES_NOT_BACKED_UP, type BackedUpFile, type BackupManifest, type FolderRole } from './manifest';

/** The folders of this host a backup holds, by role, as the configuration names them (a remote destination is server B's to keep). */
export function foldersOf(config: Config): Partial<Record<FolderRole, string>> {
  return {
    upload: config.uploadDir,
    archive: config.archiveDir,
    rejected: config.rejectedDir,
    duplicates: config.duplicatesDir,
    ...(config.destination.kind === 'local' ? { destination: config.destination.basePath } : {}),
  };
}

/** The embedded Temporal dev server's database (`start` without TEMPORAL_ADDRESS). */
export function embeddedTemporalDb(config: Config): string {
  return path.join(config.dataDir, 'temporal', 'temporal.db');
}

/** Where `start` keeps the payload keys when no setting names them. */
export function payloadKeysFileOf(config: Config): string | undefined {
  if (config.payloadKeys.keysFile) return config.payloadKeys.keysFile;
  if (config.payloadKeys.key) return undefined; // a key given in the environment: the operator keeps it
  return path.join(config.dataDir, 'payload-keys.json');
}

async function filesUnder(root: string): Promise<string[]> {
  if (!existsSync(root)) return [];
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.relative(root, path.join(e.parentPath, e.name))).sort();
}

async function copyRecorded(from: string, backupDir: string, relative: string): Promise<BackedUpFile> {
  const to = path.join(backupDir, relative);
  await mkdir(path.dirname(to), { recursive: true });
  await copyFile(from, to);
  return { path: relative, size: (await stat(to)).size, sha256: await sha256OfFile(to) };
}

/**
 * SQLite's online backup of the dev server's database (safe while the server writes it, WAL included), through
 * Python's sqlite3 module: the machine has Python wherever the embedded Temporal CLI came from (pip), and Node 20 has
 * no SQLite of its own.
 */
function backUpSqlite(from: string, to: string): void {
  const script = 'import sqlite3,sys\nsrc=sqlite3.connect(sys.argv[1]);dst=sqlite3.connect(sys.argv[2])\nwith dst: src.backup(dst)\ndst.close();src.close()';
  const run = spawnSync('python3', ['-c', script, from, to], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`Could not copy Temporal's database ${from}: ${run.error?.message ?? run.stderr.trim()}`);
}

export interface BackupOutcome {
  manifest: BackupManifest;
  dir: string;
}

/** Writes a backup of the database at `databaseUrl` and this host's files into `dir` (which must not exist yet, or be empty). */
export async function backUp(config: Config, databaseUrl: string, dir: string): Promise<BackupOutcome> {
  if (existsSync(dir) && (await readdir(dir)).length > 0) throw new Error(`${dir} is not empty: give a new folder for the backup.`);
  await mkdir(dir, { recursive: true, mode: 0o700 });

  // 1. Temporal.
  let temporal: BackupManifest['temporal'];
  if (config.temporal.address) {
    temporal = { kind: 'external', address: config.temporal.address };
  } else {
    const location = embeddedTemporalDb(config);
    if (!existsSync(location)) throw new Error(`The embedded Temporal database ${location} does not exist: has getresults start run with this GETRESULTS_DATA_DIR?`);
    const relative = path.join('temporal', 'temporal.db');
    await mkdir(path.join(dir, 'temporal'), { recursive: true });
    backUpSqlite(location, path.join(dir, relative));
    const size = (await stat(path.join(dir, relative))).size;
    temporal = { kind: 'embedded', location, path: relative, size, sha256: await sha256OfFile(path.join(dir, relative)) };
  }

  // 2. The database, every table in one snapshot.
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  const tables: BackupManifest['tables'] = [];
  let migrations: string[];
  try {
    await client.query('begin isolation level repeatable read read only');
    migrations = (await client.query<{ name: string }>('select name from mikro_orm_migrations order by id')).rows.map((r) => r.name);
    const names = (
      await client.query<{ table_name: string }>(`select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name`)
    ).rows
      .map((r) => r.table_name)
      .filter((t) => !TABLES_NOT_BACKED_UP.includes(t));
    await mkdir(path.join(dir, 'database'), { recursive: true });
    for (const table of names) {
      const relative = path.join('database', `${table}.copy`);
      await pipeline(client.query(copyTo(`copy "${table}" to stdout`)), createWriteStream(path.join(dir, relative), { mode: 0o600 }));
      const { rows } = await client.query<{ n: string }>(`select count(*) as n from "${table}"`);
      tables.push({ table, rows: Number(rows[0]!.n), path: relative, size: (await stat(path.join(dir, relative))).size, sha256: await sha256OfFile(path.join(dir, relative)) });
    }
    await client.query('commit');
  } finally {
    await client.end();
  }

  // 3. The files.
  const folders: BackupManifest['folders'] = [];
  for (const role of FOLDER_ROLES) {
    const location = foldersOf(config)[role];
    if (!location) continue;
    const files: BackedUpFile[] = [];
    for (const relative of await filesUnder(location)) files.push(await copyRecorded(path.join(location, relative), dir, path.join('files', role, relative)));
    folders.push({ role, location, files });
  }
  const keysFile = payloadKeysFileOf(config);
  const payloadKeys = keysFile && existsSync(keysFile) ? { ...(await copyRecorded(keysFile, dir, 'payload-keys.json')), location: keysFile } : undefined;

  const manifest: BackupManifest = { format: BACKUP_FORMAT, createdAt: new Date().toISOString(), migrations, tables, folders, payloadKeys, temporal };
  await writeFile(path.join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
  return { manifest, dir };
}
