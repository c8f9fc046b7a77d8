import type { Config } from '../config/config';
import type { Destination } from './destination';
import { LocalDestination } from './local-destination';
import { SftpDestination } from './sftp-destination';

export function createDestination(target: Config['destination']): Destination {
  if (target.kind === 'local') return new LocalDestination(target.basePath);
  return new SftpDestination({
    host: target.host,
    port: target.port,
    username: target.username,
    privateKeyFile: target.privateKeyFile,
    knownHostsFile: target.knownHostsFile,
    pinnedFingerprint: target.pinnedFingerprint,
    basePath: target.basePath,
    poolSize: target.poolSize,
    useRemoteSha256sum: target.useRemoteSha256sum,
  });
}
