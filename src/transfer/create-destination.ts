import type { Config } from '../config/config';
import type { Destination } from './destination';
import { LocalDestination } from './local-destination';
import { SftpDestination } from './sftp-destination';
import { sshConnectionOptionsFor } from './ssh-target';

export function createDestination(target: Config['destination']): Destination {
  if (target.kind === 'local') return new LocalDestination(target.basePath);
  return new SftpDestination({
    ...sshConnectionOptionsFor(target),
    basePath: target.basePath,
    poolSize: target.poolSize,
    useRemoteSha256sum: target.useRemoteSha256sum,
  });
}
