import { defineEntity, type InferEntity } from '@mikro-orm/core';

/** One row of the remote-folder table: files of identifier style `label` whose hint is `folderTag` go to `basePath/folder`. */
export const RemoteFolder = defineEntity({
  name: 'RemoteFolder',
  tableName: 'remote_folder',
  properties: (p) => ({
    id: p.integer().primary().autoincrement(),
    label: p.string().length(32),
    folderTag: p.string().length(32),
    folder: p.string().length(255),
    basePath: p.string().length(255),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
    /** The lab whose table this row is in (0011): labs may map the same hint to different folders. */
    labId: p.integer(),
  }),
  uniques: [{ properties: ['labId', 'label', 'folderTag'] }],
});

export type IRemoteFolder = InferEntity<typeof RemoteFolder>;

/**
 * The optional receipt rule of one clinic folder on server B (`clinicFolder` as a file's record spells it,
 * `base_path/folder`): every remote-folder row that sends files there shares it. A fetch of a file delivered there
 * counts as receipt only when its client is in `allowedClients` or its `%u` user is in `allowedUsers`
 * (src/remote-folders/clinic-rule.ts). No row, or two empty lists, means no rule.
 */
export const FolderReceiptRule = defineEntity({
  name: 'FolderReceiptRule',
  tableName: 'folder_receipt_rule',
  properties: (p) => ({
    id: p.integer().primary().autoincrement(),
    clinicFolder: p.string().length(600).unique(),
    allowedClients: p.json<string[]>(),
    allowedUsers: p.json<string[]>(),
    updatedBy: p.string().length(255).nullable(),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  }),
});

export type IFolderReceiptRule = InferEntity<typeof FolderReceiptRule>;

/**
 * Who changed the remote-folder table on the web page, and how (issue 12): a row added, edited or deleted. Only
 * inserted. The row as it was (deleted, or before an edit) and as it became, in words, so the change can be undone by
 * hand.
 */
export const FolderChange = defineEntity({
  name: 'FolderChange',
  tableName: 'folder_change',
  properties: (p) => ({
    id: p.integer().primary().autoincrement(),
    at: p.datetime().onCreate(() => new Date()),
    actor: p.string().length(255),
    action: p.string().length(16),
    label: p.string().length(32),
    folderTag: p.string().length(32),
    /** `label tag → base/folder` before and after; null where there was none. */
    before: p.text().nullable(),
    after: p.text().nullable(),
    /** The lab whose table changed (null: recorded before labs, 0011). */
    labId: p.integer().nullable(),
  }),
  indexes: [{ properties: ['at'] }],
});

export type IFolderChange = InferEntity<typeof FolderChange>;
