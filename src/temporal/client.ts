import { Client, Connection, type ConnectionLike } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import type { PayloadCodec } from '@temporalio/common';
import { explainConnectFailure, type TemporalEndpoint } from './connection-security';
import { encryptingDataConverter } from './data-converter';
import { createResultWorkflows, type ResultWorkflows, type ResultWorkflowsOptions } from './result-workflows';

export interface TemporalTarget {
  /** Address, TLS and API key (connection-security.ts). */
  endpoint: TemporalEndpoint;
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
  target: Omit<TemporalTarget, 'endpoint'>,
  options: ResultWorkflowsOptions = {},
): ResultWorkflows {
  return createResultWorkflows(new Client({ connection, namespace: target.namespace, dataConverter: encryptingDataConverter(target.payloadCodec) }), options);
}

/**
 * For a process that runs no worker (watch, web, CLI commands): one connection, shared by everything in it. A failure
 * to connect names the setting to look at (`command` says who was connecting).
 */
export async function connectResultWorkflows(
  target: TemporalTarget,
  command: string,
  options: ResultWorkflowsOptions = {},
): Promise<{ workflows: ResultWorkflows; close: () => Promise<void> }> {
  const { address, tls, apiKey } = target.endpoint;
  let connection: Connection;
  try {
    connection = await Connection.connect({ address, tls, apiKey });
  } catch (err) {
    throw await explainConnectFailure(err, target.endpoint, command);
  }
  return { workflows: resultWorkflowsOn(connection, target, options), close: () => connection.close() };
}
