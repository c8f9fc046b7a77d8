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
  }),
  uniques: [{ properties: ['label', 'folderTag'] }],
});

export type IRemoteFolder = InferEntity<typeof RemoteFolder>;
