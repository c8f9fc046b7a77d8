import { defineEntity, type InferEntity } from '@mikro-orm/core';

/**
 * The audit trail: one row per step of a file's life. Rows are only ever inserted. `eventKey` makes a retried
 * activity's write land once. `seq`, `prevHash` and `hash` chain the rows (src/db/audit-chain.ts writes them).
 */
export const FileEvent = defineEntity({
  name: 'FileEvent',
  tableName: 'file_event',
  properties: (p) => ({
    id: p.bigint('number').primary().autoincrement(),
    resultFileId: p.bigint('number').index(),
    eventKey: p.string().length(160).unique(),
    type: p.string().length(48),
    state: p.string().length(32).nullable(),
    message: p.text(),
    detail: p.json<Record<string, unknown>>().nullable(),
    actor: p.string().length(255).default('system'),
    at: p.datetime(),
    /** Position in the hash chain over all events: 1, 2, 3, … in the order they were appended. */
    seq: p.bigint('number').unique(),
    prevHash: p.string().length(64),
    hash: p.string().length(64),
  }),
  // A file's trail, in time order.
  indexes: [{ properties: ['resultFileId', 'at'] }],
});

export type IFileEvent = InferEntity<typeof FileEvent>;
