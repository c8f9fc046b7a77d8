import { defineEntity, type InferEntity } from '@mikro-orm/core';
import { FILE_STATES } from '../../domain/file-state';

/**
 * One upload of a result file (one workflow run). The same content uploaded again gets its own row marked DUPLICATE,
 * pointing at the delivery it repeats: that is the permanent de-duplication record, which outlives Temporal's retention.
 */
export const ResultFile = defineEntity({
  name: 'ResultFile',
  tableName: 'result_file',
  properties: (p) => ({
    id: p.bigint('number').primary().autoincrement(),
    workflowId: p.string().length(100),
    runId: p.string().length(64).unique(),
    fileName: p.string().length(1024),
    uploadPath: p.text(),
    sizeBytes: p.bigint('number'),
    sha256: p.string().length(64).index(),
    identifier: p.string().length(255).nullable().index(),
    label: p.string().length(32).nullable(),
    hint: p.string().length(32).nullable(),
    clinicFolder: p.string().length(255).nullable(),
    state: p.enum([...FILE_STATES]).index(),
    stateReason: p.text().nullable(),
    rejectionCode: p.string().length(64).nullable(),
    remotePath: p.text().nullable(),
    archivePath: p.text().nullable(),
    duplicateOf: p.bigint('number').nullable(),
    uploadedBy: p.string().length(255).nullable(),
    uploadedAt: p.datetime(),
    sentAt: p.datetime().nullable(),
    acknowledgedAt: p.datetime().nullable(),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  }),
  indexes: [{ properties: ['uploadedAt'] }],
});

export type IResultFile = InferEntity<typeof ResultFile>;
