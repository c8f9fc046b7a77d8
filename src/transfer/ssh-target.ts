import type { SftpTarget } from '../config/config';
import type { SshConnectionOptions } from './ssh-connection-pool';

/**
 * How to reach server B over SSH, from the configured destination. The transfer and the access-log reader both use it,
 * so they log in the same way and trust the same host key.
 */
export function sshConnectionOptionsFor(target: SftpTarget): SshConnectionOptions {
  return {
    host: target.host,
    port: target.port,
    username: target.username,
    privateKeyFile: target.privateKeyFile,
    passphraseFile: target.passphraseFile,
    knownHostsFile: target.knownHostsFile,
    pinnedFingerprint: target.pinnedFingerprint,
  };
}
