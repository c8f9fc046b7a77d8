import { defineEntity, type InferEntity } from '@mikro-orm/core';

/**
 * A file on its way between the web page and an upload host that is another machine (issue 13): an archived PDF the
 * page shows (`to-web`, written by the host's activity, read once by the page) or a web upload for a host whose folder
 * the page cannot write (`to-host`, written by the page, placed in the host's upload folder by its activity). The bytes
 * travel through PostgreSQL, which both sides reach already, never through Temporal's history; a row lives for seconds
 * and is deleted by whoever reads it (rows of an abandoned handover are swept after HANDOVER_TTL_MS,
 * src/labs/file-handover.ts).
 */
export const FileHandover = defineEntity({
  name: 'FileHandover',
  tableName: 'file_handover',
  properties: (p) => ({
    /** A random UUID, also the handover workflow's ID: it names no file and no patient. */
    id: p.uuid().primary(),
    direction: p.string().length(8),
    /** The archived file shown (`to-web`); null for an upload, which has no row yet. */
    resultFileId: p.bigint('number').nullable(),
    fileName: p.string().length(1024),
    sha256: p.string().length(64),
    content: p.blob(),
    createdAt: p.datetime().index(),
  }),
});

export type IFileHandover = InferEntity<typeof FileHandover>;
