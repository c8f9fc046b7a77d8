/**
 * What a backup folder holds (src/backup/backup.ts writes it, restore.ts checks and applies it):
 *
 *   manifest.json           this description, with a SHA-256 of every other file
 *   database/<table>.copy   each table's rows in PostgreSQL's COPY text format, read in one snapshot
 *   files/<role>/...        the upload, archive, rejected and duplicates folders of this upload host, and the
 *                           destination when it is a local folder (`start`'s default: it then is the clinics' copy)
 *   payload-keys.json       the keys that encrypt what Temporal stores (without them its data cannot be read)
 *   temporal/temporal.db    the embedded Temporal dev server's SQLite database (a real cluster is backed up with its own tools)
 *
 * The database is kept as rows, not as a pg_dump archive, so a backup of the embedded PostgreSQL (18) restores into
 * any PostgreSQL the migrations run on, and no pg_dump of the server's exact version is needed.
 */
export const BACKUP_FORMAT = 'getresults-backup/1';

export const FOLDER_ROLES = ['upload', 'archive', 'rejected', 'duplicates', 'destination'] as const;
export type FolderRole = (typeof FOLDER_ROLES)[number];

export interface BackedUpFile {
  /** Relative to the backup folder. */
  path: string;
  size: number;
  sha256: string;
}

export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  createdAt: string;
  /** The migrations the database had: a restore brings an empty database to exactly these, loads the rows, then migrates on. */
  migrations: string[];
  tables: Array<BackedUpFile & { table: string; rows: number }>;
  /** Where each folder was: a restore puts it back there (paths are recorded in the database and in Temporal). */
  folders: Array<{ role: FolderRole; location: string; files: BackedUpFile[] }>;
  payloadKeys?: BackedUpFile & { location: string };
  temporal: ({ kind: 'embedded'; location: string } & BackedUpFile) | { kind: 'external'; address: string };
}

/**
 * Tables left out: the bytes of handovers in flight (seconds old, their workflows are bounded), and sign-in sessions
 * and throttling counters (a restored system asks everyone to sign in again).
 */
export const TABLES_NOT_BACKED_UP = ['mikro_orm_migrations', 'file_handover', 'web_session', 'login_failure'];
