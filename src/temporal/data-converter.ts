/**
 * The data converter every Worker and Client of ours uses. This module is also bundled into the workflow sandbox (as
 * `failureConverterPath`), so it may import `@temporalio/common` and types only: the codec itself lives in
 * payload-codec.ts.
 */
import { DefaultFailureConverter, type DataConverter, type PayloadCodec } from '@temporalio/common';

/**
 * Failure messages and stack traces are not payloads: Temporal stores them in clear unless they are moved into the
 * failure's encoded attributes, which the payload codec then encrypts. Ours name files and folders, so they are moved.
 */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });

/** Path of this module, for `failureConverterPath` (Workers load it in the sandbox, Clients with require). */
export function failureConverterPath(): string {
  return __filename;
}

export function encryptingDataConverter(codec: PayloadCodec): DataConverter {
  return { payloadCodecs: [codec], failureConverterPath: failureConverterPath() };
}
