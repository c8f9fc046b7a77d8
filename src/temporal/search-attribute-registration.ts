import type { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { NativeConnection } from '@temporalio/worker';
import { SEARCH_ATTRIBUTE_REGISTRATIONS } from '../workflows/search-attributes';

const { IndexedValueType } = temporal.api.enums.v1;
const INDEXED_TYPE = { Keyword: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD, Int: IndexedValueType.INDEXED_VALUE_TYPE_INT } as const;

/** What an operator runs when this process may not register the attributes itself (e.g. Temporal Cloud). */
export function searchAttributeCommands(namespace: string, names: readonly string[] = Object.keys(SEARCH_ATTRIBUTE_REGISTRATIONS)): string[] {
  return names.map((name) => `temporal operator search-attribute create --namespace ${namespace} --name ${name} --type ${SEARCH_ATTRIBUTE_REGISTRATIONS[name]}`);
}

/**
 * Makes sure the namespace knows our search attributes (src/workflows/search-attributes.ts) before a worker serves
 * file workflows: a start that names an unknown attribute is refused, so without them no file would move.
 * `getresults start` and docker-compose.temporal.yml register them already; this covers any other cluster, once per
 * process start. An attribute registered with another type is a clear error, not something to paper over.
 */
export async function ensureSearchAttributes(connection: Connection | NativeConnection, namespace: string): Promise<'present' | 'registered'> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  const known = customAttributes ?? {};
  const missing: Record<string, number> = {};
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTE_REGISTRATIONS)) {
    const has = known[name];
    if (has === undefined) missing[name] = INDEXED_TYPE[type];
    else if (has !== INDEXED_TYPE[type]) {
      throw new Error(
        `Temporal namespace "${namespace}" has search attribute ${name} as ${IndexedValueType[has] ?? has}, but getresults needs ${type}; ` +
          `rename or remove it (an operator's decision) before starting.`,
      );
    }
  }
  if (Object.keys(missing).length === 0) return 'present';
  try {
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing });
  } catch (err) {
    throw new Error(
      `Temporal namespace "${namespace}" lacks the search attributes ${Object.keys(missing).join(', ')}, and registering them was refused ` +
        `(${(err as Error).message}). An operator registers them once (docs/deployment.md):\n  ${searchAttributeCommands(namespace, Object.keys(missing)).join('\n  ')}`,
    );
  }
  return 'registered';
}
