import { Client, Connection, type ConnectionLike } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import type { PayloadCodec } from '@temporalio/common';
import { encryptingDataConverter } from './data-converter';
import { createResultWorkflows, type ResultWorkflows, type ResultWorkflowsOptions } from './result-workflows';

export interface TemporalTarget {
  address: string;
  namespace: string;
  /** Encrypts every payload (and failure message) this client sends; see payload-codec.ts. */
  payloadCodec: PayloadCodec;
}

/**
 * Our workflows through a connection the caller opened and closes. A process that runs a worker passes the worker's
 * NativeConnection, so worker, watcher, web page and log scan share one connection.
 */
export function resultWorkflowsOn(
  connection: ConnectionLike | NativeConnection,
  target: Omit<TemporalTarget, 'address'>,
  options: ResultWorkflowsOptions = {},
): ResultWorkflows {
  return createResultWorkflows(new Client({ connection, namespace: target.namespace, dataConverter: encryptingDataConverter(target.payloadCodec) }), options);
}

/** For a process that runs no worker (watch, web, CLI commands): one connection, shared by everything in it. */
export async function connectResultWorkflows(target: TemporalTarget): Promise<{ workflows: ResultWorkflows; close: () => Promise<void> }> {
  const connection = await Connection.connect({ address: target.address });
  return { workflows: resultWorkflowsOn(connection, target), close: () => connection.close() };
}
