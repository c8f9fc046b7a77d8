import { defineEntity, type InferEntity } from '@mikro-orm/core';

/**
 * One file uploaded through the web page: who, what, when. The watcher cannot carry the uploader to the workflow yet,
 * so this is where "uploaded by" is known; result_file rows are matched to it by SHA-256 (and name).
 */
export const WebUpload = defineEntity({
  name: 'WebUpload',
  tableName: 'web_upload',
  properties: (p) => ({
    id: p.bigint('number').primary().autoincrement(),
    username: p.string().length(64).index(),
    /** The sanitised name the file was written under in the upload folder. */
    fileName: p.string().length(1024).index(),
    sha256: p.string().length(64).index(),
    sizeBytes: p.bigint('number'),
    uploadedAt: p.datetime().index(),
    /** The uploader's lab (0011). */
    labId: p.integer(),
  }),
});

export type IWebUpload = InferEntity<typeof WebUpload>;
