import type { MigrationObject } from '@mikro-orm/core';
import { Migration0001InitialSchema } from './0001-initial-schema';

/** Every committed migration, oldest first. Add new ones at the end; never edit an applied one. */
export const MIGRATIONS: MigrationObject[] = [{ name: '0001-initial-schema', class: Migration0001InitialSchema }];
