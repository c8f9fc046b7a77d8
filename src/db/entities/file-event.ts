import { defineEntity, type InferEntity } from '@mikro-orm/core';

/**
 * The audit trail: one row per step of a file's life. Rows are only ever inserted. `eventKey` makes a retried
 * activity's write land once.
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
  }),
});

export type IFileEvent = InferEntity<typeof FileEvent>;
