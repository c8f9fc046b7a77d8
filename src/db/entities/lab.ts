import { defineEntity, type InferEntity } from '@mikro-orm/core';

/**
 * A laboratory served by this deployment (issue 13). It owns its upload hosts, its users and its files; its
 * remote-folder table is its own, or another lab's when `foldersOfLabId` names one (labs that send to the same clinics
 * share one table). The lab `default` holds what a single-lab installation had (migration 0011).
 */
export const Lab = defineEntity({
  name: 'Lab',
  tableName: 'lab',
  properties: (p) => ({
    id: p.integer().primary().autoincrement(),
    /** Short and stable: settings, commands and the Temporal search attribute use it. */
    name: p.string().length(64).unique(),
    /** What people read on the page. */
    title: p.string().length(255),
    foldersOfLabId: p.integer().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  }),
});

export type ILab = InferEntity<typeof Lab>;

/**
 * An upload host: a machine with an upload folder, a watcher and a worker (GETRESULTS_HOST_ID), belonging to one lab.
 * Its worker registers it at start; the files it received stay on it (original, archive, rejected copy), and the web
 * page reaches them through its task queue.
 */
export const UploadHost = defineEntity({
  name: 'UploadHost',
  tableName: 'upload_host',
  properties: (p) => ({
    name: p.string().length(100).primary(),
    labId: p.integer().index(),
    registeredAt: p.datetime().onCreate(() => new Date()),
    lastStartedAt: p.datetime().onCreate(() => new Date()),
    /** Set by `getresults hosts retire` (src/labs/retire-host.ts): the web page sends it no more uploads. */
    retiredAt: p.datetime().nullable(),
  }),
});

export type IUploadHost = InferEntity<typeof UploadHost>;
