import { defineEntity, type InferEntity } from '@mikro-orm/core';

/**
 * A fetch of a delivered file that the clinic folder's receipt rule does not accept (src/remote-folders/clinic-rule.ts):
 * the file left server B, but not to an address or user of that clinic. It is not an acknowledgement; it is kept
 * as evidence, with the reason, and shown on the file's page and the receipts page.
 */
export const ForeignAccess = defineEntity({
  name: 'ForeignAccess',
  tableName: 'foreign_access',
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
    /** The log line's identity, as for acknowledgements: a re-scan cannot record it twice. */
    evidenceKey: p.string().length(200).unique(),
    recordedAt: p.datetime().onCreate(() => new Date()),
  }),
  indexes: [{ properties: ['accessedAt'] }],
});

export type IForeignAccess = InferEntity<typeof ForeignAccess>;
