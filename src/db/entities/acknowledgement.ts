import { defineEntity, type InferEntity } from '@mikro-orm/core';

/** Evidence that a clinic fetched a delivered file: one row per qualifying access-log line. */
export const Acknowledgement = defineEntity({
  name: 'Acknowledgement',
  tableName: 'acknowledgement',
  properties: (p) => ({
    id: p.bigint('number').primary().autoincrement(),
    /** Null when the log names a file we have no delivery for: kept, never lost. */
    resultFileId: p.bigint('number').nullable().index(),
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

export type IAcknowledgement = InferEntity<typeof Acknowledgement>;
