/**
 * Transfer failures that retrying cannot fix without a human: the transfer activity maps them to non-retryable
 * failures so the workflow can wait visibly instead of hammering the server.
 */

/** The server presented a host key that is not the one we trust (possible man-in-the-middle, or a reinstalled server). */
export class HostKeyRejectedError extends Error {
  override readonly name = 'HostKeyRejectedError';
  constructor(
    readonly host: string,
    readonly presentedFingerprint: string,
  ) {
    super(
      `The SSH server ${host} presented host key ${presentedFingerprint}, which is not in the trusted known_hosts ` +
        `or pinned fingerprint. Nothing was sent. If the server was legitimately reinstalled, update the known_hosts file.`,
    );
  }
}

/** The server refused our key. */
export class SshAuthenticationError extends Error {
  override readonly name = 'SshAuthenticationError';
  constructor(readonly host: string, readonly username: string) {
    super(`The SSH server ${host} refused the key for user ${username}. Nothing was sent. Check the authorized key on server B.`);
  }
}

/** The remote copy did not match what we sent; it was removed and the transfer will be retried. */
export class VerificationFailedError extends Error {
  override readonly name = 'VerificationFailedError';
}
