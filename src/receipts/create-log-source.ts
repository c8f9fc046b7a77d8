import type { Config } from '../config/config';
import { SshConnectionPool } from '../transfer/ssh-connection-pool';
import { sshConnectionOptionsFor } from '../transfer/ssh-target';
import { compileLogFormat } from '../access-log/log-format';
import { LocalLogSource, SftpLogSource, type LogSource } from './log-source';

/** The configured access log, or undefined when receipt scanning is off. Fails early on a bad format or location. */
export function createLogSource(config: Config): LogSource | undefined {
  const location = config.accessLog.location;
  if (!location) return undefined;
  compileLogFormat(config.accessLog.format); // a bad LogFormat is a configuration error, reported at start
  if (!location.startsWith('sftp:')) return new LocalLogSource(location);
  const target = config.destination;
  if (target.kind !== 'sftp') {
    throw new Error('GETRESULTS_ACCESS_LOG=sftp:... reads the log on server B, so GETRESULTS_DESTINATION must be an sftp:// destination.');
  }
  const pool = new SshConnectionPool({ ...sshConnectionOptionsFor(target), size: 1 });
  return new SftpLogSource(pool, `sftp://${target.host}:${target.port}${location.slice('sftp:'.length)}`);
}
