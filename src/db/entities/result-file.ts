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
    fileName: p.string().length(1024).index(),
    uploadPath: p.text(),
    sizeBytes: p.bigint('number'),
    sha256: p.string().length(64).index(),
    identifier: p.string().length(255).nullable().index(),
    label: p.string().length(32).nullable(),
    hint: p.string().length(32).nullable(),
    clinicFolder: p.string().length(255).nullable().index(),
    state: p.enum([...FILE_STATES]).index(),
    stateReason: p.text().nullable(),
    rejectionCode: p.string().length(64).nullable(),
    remotePath: p.text().nullable().index(),
    archivePath: p.text().nullable(),
    duplicateOf: p.bigint('number').nullable(),
    uploadedBy: p.string().length(255).nullable().index(),
    uploadedAt: p.datetime(),
    sentAt: p.datetime().nullable(),
    acknowledgedAt: p.datetime().nullable(),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
    /** The lab the file belongs to: its upload host's (0011). */
    labId: p.integer(),
    /** The upload host holding the file (original, archive, rejected copy); null for files received before 0011. */
    uploadHost: p.string().length(100).nullable().index(),
  }),
  // Indexes MikroORM cannot describe by properties (partial, descending, GIN) are given as the SQL the migrations ran.
  // The schema generator compares such indexes by name only; test/db/schema-matches-entities.test.ts compares them whole.
  indexes: [
    { properties: ['uploadedAt'] },
    // The dashboard counts by day of sending and of acknowledgement (0002).
    { name: 'result_file_sent_at_index', expression: 'create index "result_file_sent_at_index" on "result_file" ("sent_at") where "sent_at" is not null' },
    {
      name: 'result_file_acknowledged_at_index',
      expression: 'create index "result_file_acknowledged_at_index" on "result_file" ("acknowledged_at") where "acknowledged_at" is not null',
    },
    // The file list, newest first (0002).
    { name: 'result_file_uploaded_at_id_index', expression: 'create index "result_file_uploaded_at_id_index" on "result_file" ("uploaded_at" desc, "id" desc)' },
    // "Contains" search (ILIKE '%q%'), served only by trigram indexes; 0002 creates them when pg_trgm can be had.
    { name: 'result_file_file_name_trgm', expression: 'create index "result_file_file_name_trgm" on "result_file" using gin ("file_name" gin_trgm_ops)' },
    { name: 'result_file_identifier_trgm', expression: 'create index "result_file_identifier_trgm" on "result_file" using gin ("identifier" gin_trgm_ops)' },
    // One lab's file list, newest first (0011).
    {
      name: 'result_file_lab_id_uploaded_at_id_index',
      expression: 'create index "result_file_lab_id_uploaded_at_id_index" on "result_file" ("lab_id", "uploaded_at" desc, "id" desc)',
    },
    // The file list within one state or clinic folder, newest first (0006).
    {
      name: 'result_file_state_uploaded_at_id_index',
      expression: 'create index "result_file_state_uploaded_at_id_index" on "result_file" ("state", "uploaded_at" desc, "id" desc)',
    },
    {
      name: 'result_file_clinic_folder_uploaded_at_id_index',
      expression: 'create index "result_file_clinic_folder_uploaded_at_id_index" on "result_file" ("clinic_folder", "uploaded_at" desc, "id" desc)',
    },
  ],
  uniques: [
    // The permanent de-duplication record: at most one live delivery per content, whatever Temporal's retention (0001).
    {
      name: 'result_file_one_delivery_per_sha256',
      expression: `create unique index "result_file_one_delivery_per_sha256" on "result_file" ("sha256") where "state" not in ('REJECTED', 'DUPLICATE', 'SUPERSEDED', 'WITHDRAWN')`,
    },
  ],
});

export type IResultFile = InferEntity<typeof ResultFile>;
