import { Client, Connection } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import { encryptingDataConverter } from './data-converter';

export interface TemporalTarget {
  address: string;
  namespace: string;
  /** Encrypts every payload (and failure message) this client sends; see payload-codec.ts. */
  payloadCodec: PayloadCodec;
}

/** One connection per process, shared by everything in it. */
export async function connectClient(target: TemporalTarget): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect({ address: target.address });
  const client = new Client({ connection, namespace: target.namespace, dataConverter: encryptingDataConverter(target.payloadCodec) });
  return { client, connection };
}
