import type { MigrationObject } from '@mikro-orm/core';
import { Migration0001InitialSchema } from './0001-initial-schema';
import { Migration0002UsersAndWeb } from './0002-users-and-web';
import { Migration0003AccessLogScan } from './0003-access-log-scan';
import { Migration0004EventHashChain } from './0004-event-hash-chain';
import { Migration0005ClinicReceiptRule } from './0005-clinic-receipt-rule';
import { Migration0006ListByStateAndClinic } from './0006-list-by-state-and-clinic';
import { Migration0007SessionIdleTimeout } from './0007-session-idle-timeout';
import { Migration0008SecurityEvents } from './0008-security-events';
import { Migration0009FolderChanges } from './0009-folder-changes';
import { Migration0010WithdrawnState } from './0010-withdrawn-state';
import { Migration0011LabsAndHosts } from './0011-labs-and-hosts';
import { Migration0012FileHandover } from './0012-file-handover';
import { Migration0013Alerts } from './0013-alerts';
import { Migration0014FetchTables } from './0014-fetch-tables';

/** Every committed migration, oldest first. Add new ones at the end; never edit an applied one. */
export const MIGRATIONS: MigrationObject[] = [
  { name: '0001-initial-schema', class: Migration0001InitialSchema },
  { name: '0002-users-and-web', class: Migration0002UsersAndWeb },
  { name: '0003-access-log-scan', class: Migration0003AccessLogScan },
  { name: '0004-event-hash-chain', class: Migration0004EventHashChain },
  { name: '0005-clinic-receipt-rule', class: Migration0005ClinicReceiptRule },
  { name: '0006-list-by-state-and-clinic', class: Migration0006ListByStateAndClinic },
  { name: '0007-session-idle-timeout', class: Migration0007SessionIdleTimeout },
  { name: '0008-security-events', class: Migration0008SecurityEvents },
  { name: '0009-folder-changes', class: Migration0009FolderChanges },
  { name: '0010-withdrawn-state', class: Migration0010WithdrawnState },
  { name: '0011-labs-and-hosts', class: Migration0011LabsAndHosts },
  { name: '0012-file-handover', class: Migration0012FileHandover },
  { name: '0013-alerts', class: Migration0013Alerts },
  { name: '0014-fetch-tables', class: Migration0014FetchTables },
];
