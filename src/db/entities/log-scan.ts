import { defineEntity, type InferEntity } from '@mikro-orm/core';

/**
 * Where the last scan of an access log stopped. The file is recognised by its first line (works over SFTP, which
 * shows no inode); the bytes just before `offset` are fingerprinted so a file rewritten in place is noticed.
 */
export const LogCursor = defineEntity({
  name: 'LogCursor',
  tableName: 'log_cursor',
  properties: (p) => ({
    id: p.integer().primary().autoincrement(),
    source: p.string().length(500).unique(),
    fileIdentity: p.string().length(64),
    offset: p.bigint('number'),
    tailFingerprint: p.string().length(64),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  }),
});

/** One run of the scheduled log scan, with what it found: shown to technicians and operators. */
export const LogScanRun = defineEntity({
  name: 'LogScanRun',
  tableName: 'log_scan_run',
  properties: (p) => ({
    id: p.bigint('number').primary().autoincrement(),
    workflowId: p.string().length(200),
    runId: p.string().length(64).unique(),
    source: p.string().length(500),
    startedAt: p.datetime(),
    finishedAt: p.datetime().nullable(),
    bytesRead: p.bigint('number').default(0),
    linesRead: p.bigint('number').default(0),
    hits: p.integer().default(0),
    acknowledged: p.integer().default(0),
    unknownHits: p.integer().default(0),
    /** Fetches of delivered files that the clinic folder's receipt rule did not accept (kept as foreign accesses). */
    foreignHits: p.integer().default(0),
    parseErrors: p.integer().default(0),
    errorSamples: p.json<Array<{ offset: number; line: string }>>().nullable(),
    notes: p.json<string[]>().nullable(),
    durationMs: p.integer().nullable(),
  }),
  indexes: [{ properties: ['startedAt'] }],
});

export type ILogCursor = InferEntity<typeof LogCursor>;
export type ILogScanRun = InferEntity<typeof LogScanRun>;
