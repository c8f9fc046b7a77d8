import { defineEntity, type InferEntity } from '@mikro-orm/core';

/*
 * What the log scan records of each hit (src/receipts/record-fetches.ts), in one of three tables by how it was judged:
 * a receipt (a fetch of a delivered file that counts), a foreign fetch (of a delivered file, refused by its clinic
 * folder's receipt rule) or an unknown fetch (of a path we delivered nothing to). Each row is identified by its log
 * line (`evidenceKey`), so a re-scan cannot record a line twice; docs/web.md shows where each is seen.
 */

/** A fetch of a delivered file that counts as receipt; the earliest (`first`) is the file's acknowledgement. */
export const Receipt = defineEntity({
  name: 'Receipt',
  tableName: 'receipt',
  properties: (p) => ({
    id: p.bigint('number').primary().autoincrement(),
    resultFileId: p.bigint('number').index(),
    /** The log scan looks fetches up by where the file lives on server B. */
    remotePath: p.text().index(),
    accessedAt: p.datetime(),
    client: p.string().length(255),
    /** The user Apache logged (`%u`), when the clinic signed in. */
    remoteUser: p.string().length(255).nullable(),
    requestLine: p.text(),
    status: p.integer().nullable(),
    bytes: p.bigint('number').nullable(),
    first: p.boolean().default(false),
    /** Identifies the log line (source + offset, or a hash) so a re-scan cannot record it twice. */
    evidenceKey: p.string().length(200).unique(),
    recordedAt: p.datetime().onCreate(() => new Date()),
  }),
});

export type IReceipt = InferEntity<typeof Receipt>;

/**
 * A fetch of a delivered file that the clinic folder's receipt rule does not accept (src/remote-folders/clinic-rule.ts):
 * the file left server B, but not to an address or user of that clinic. It is not a receipt; it is kept as evidence,
 * with the reason, and shown on the file's page and the receipts page.
 */
export const ForeignFetch = defineEntity({
  name: 'ForeignFetch',
  tableName: 'foreign_fetch',
  properties: (p) => ({
    id: p.bigint('number').primary().autoincrement(),
    resultFileId: p.bigint('number').index(),
    clinicFolder: p.string().length(600),
    remotePath: p.text(),
    accessedAt: p.datetime(),
    client: p.string().length(255),
    remoteUser: p.string().length(255).nullable(),
    requestLine: p.text(),
    status: p.integer().nullable(),
    bytes: p.bigint('number').nullable(),
    /** Why it did not count, in words: `client 10.9.9.9 is not one of viral_load/digawana's addresses`. */
    reason: p.text(),
    /** The log line's identity, as for receipts: a re-scan cannot record it twice. */
    evidenceKey: p.string().length(200).unique(),
    recordedAt: p.datetime().onCreate(() => new Date()),
  }),
  indexes: [{ properties: ['accessedAt'] }],
});

export type IForeignFetch = InferEntity<typeof ForeignFetch>;

/**
 * A fetch of a path we delivered nothing to (or no longer have there: a withdrawn file): kept, never lost, so an
 * operator can look into it. Its path may name any lab's patient, so only a deployment admin sees the list.
 */
export const UnknownFetch = defineEntity({
  name: 'UnknownFetch',
  tableName: 'unknown_fetch',
  properties: (p) => ({
    id: p.bigint('number').primary().autoincrement(),
    remotePath: p.text().index(),
    accessedAt: p.datetime(),
    client: p.string().length(255),
    remoteUser: p.string().length(255).nullable(),
    requestLine: p.text(),
    status: p.integer().nullable(),
    bytes: p.bigint('number').nullable(),
    /** The log line's identity, as for receipts: a re-scan cannot record it twice. */
    evidenceKey: p.string().length(200).unique(),
    recordedAt: p.datetime().onCreate(() => new Date()),
  }),
  indexes: [{ properties: ['accessedAt'] }],
});

export type IUnknownFetch = InferEntity<typeof UnknownFetch>;
