import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import type { TLSConfig } from '@temporalio/client';

/**
 * How every getresults process reaches a Temporal that is not the embedded dev server (issue 11): TLS with the
 * server's CA, a client certificate for mutual TLS, a server name override, and an API key (Temporal Cloud, or a
 * proxy that checks one). The settings carry the `temporal` CLI's own names, so one environment serves both.
 *
 * Files are read when a process connects, so a rotated certificate is picked up at the next start; the API key and
 * the private key are never logged.
 */
export interface TemporalConnectionSettings {
  /** TEMPORAL_TLS: unset means on when any other TLS setting or an API key is given (as the CLI does). */
  tls?: boolean;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  serverName?: string;
  /** TEMPORAL_API_KEY (from the environment) or TEMPORAL_API_KEY_FILE; at most one. */
  apiKey?: string;
  apiKeyFile?: string;
}

/** What Connection.connect and NativeConnection.connect both take. */
export interface TemporalEndpoint {
  address: string;
  /** false: plain, even with an API key (which would otherwise turn TLS on in the SDK). */
  tls: TLSConfig | false;
  apiKey?: string;
}

export const TLS_SETTINGS = {
  tls: 'TEMPORAL_TLS',
  caFile: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
  certFile: 'TEMPORAL_TLS_CLIENT_CERT_PATH',
  keyFile: 'TEMPORAL_TLS_CLIENT_KEY_PATH',
  serverName: 'TEMPORAL_TLS_SERVER_NAME',
  apiKey: 'TEMPORAL_API_KEY',
  apiKeyFile: 'TEMPORAL_API_KEY_FILE',
} as const;

export function usesTls(settings: TemporalConnectionSettings): boolean {
  return settings.tls ?? Boolean(settings.caFile || settings.certFile || settings.keyFile || settings.serverName || settings.apiKey || settings.apiKeyFile);
}

function readSetting(file: string, setting: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`${setting} ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`);
  }
}

/** The endpoint the settings describe, files read; a setting that cannot work is named in the error. */
export function temporalEndpoint(address: string, settings: TemporalConnectionSettings): TemporalEndpoint {
  if (Boolean(settings.certFile) !== Boolean(settings.keyFile)) {
    throw new Error(`${TLS_SETTINGS.certFile} and ${TLS_SETTINGS.keyFile} go together: set both (a client certificate and its private key) or neither.`);
  }
  if (settings.apiKey && settings.apiKeyFile) throw new Error(`Set ${TLS_SETTINGS.apiKey} or ${TLS_SETTINGS.apiKeyFile}, not both.`);
  const endpoint: TemporalEndpoint = { address, tls: false };
  if (settings.apiKeyFile) {
    const key = readSetting(settings.apiKeyFile, TLS_SETTINGS.apiKeyFile).toString('utf8').trim();
    if (!key || /\s/.test(key)) throw new Error(`${TLS_SETTINGS.apiKeyFile} ${settings.apiKeyFile} must hold the API key alone, on one line.`);
    endpoint.apiKey = key;
  } else if (settings.apiKey) {
    endpoint.apiKey = settings.apiKey.trim();
  }
  if (!usesTls(settings)) {
    if (settings.caFile || settings.certFile || settings.serverName) {
      throw new Error(`${TLS_SETTINGS.tls}=false, but TLS files or a server name are set: remove them, or turn TLS on.`);
    }
    return endpoint;
  }
  const tls: TLSConfig = {};
  if (settings.caFile) tls.serverRootCACertificate = readSetting(settings.caFile, TLS_SETTINGS.caFile);
  if (settings.certFile && settings.keyFile) {
    tls.clientCertPair = { crt: readSetting(settings.certFile, TLS_SETTINGS.certFile), key: readSetting(settings.keyFile, TLS_SETTINGS.keyFile) };
  }
  if (settings.serverName) tls.serverNameOverride = settings.serverName;
  endpoint.tls = tls;
  return endpoint;
}

/** What a TLS handshake of our own with the server showed; undefined when it showed nothing wrong with TLS. */
type TlsFinding = string | undefined;

/**
 * A handshake with the settings' own CA, certificate and server name, made only after the SDK failed: its errors
 * ("Failed to connect before the deadline", "transport error") do not say which setting is wrong, Node's TLS does.
 * With TLS off, it asks whether the server speaks TLS at all.
 */
function probeTls(endpoint: TemporalEndpoint): Promise<TlsFinding> {
  const at = endpoint.address.lastIndexOf(':');
  const host = endpoint.address.slice(0, at).replace(/^\[|\]$/g, '');
  const port = Number(endpoint.address.slice(at + 1));
  const tlsSettings = endpoint.tls;
  return new Promise((resolve) => {
    let settled = false;
    const done = (finding: TlsFinding) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(finding);
    };
    const options: ConnectionOptions = {
      host,
      port,
      ALPNProtocols: ['h2'],
      servername: tlsSettings ? (tlsSettings.serverNameOverride ?? (isIP(host) ? undefined : host)) : undefined,
      rejectUnauthorized: Boolean(tlsSettings),
    };
    if (tlsSettings) {
      if (tlsSettings.serverRootCACertificate) options.ca = Buffer.from(tlsSettings.serverRootCACertificate);
      if (tlsSettings.clientCertPair) {
        options.cert = Buffer.from(tlsSettings.clientCertPair.crt);
        options.key = Buffer.from(tlsSettings.clientCertPair.key);
      }
    }
    let handshakeDone = false;
    const refusedCertificate = `the server refused the client certificate in ${TLS_SETTINGS.certFile}: it must be signed by a CA the server trusts`;
    const socket = tlsConnect(options, () => {
      if (!tlsSettings) return done(`the server at ${endpoint.address} speaks TLS: set ${TLS_SETTINGS.caFile} to the CA that signed its certificate (${TLS_SETTINGS.tls}=true for a public CA) and, for mutual TLS, ${TLS_SETTINGS.certFile} and ${TLS_SETTINGS.keyFile}`);
      // TLS 1.3: a server that refuses the client certificate says so (or just hangs up) right after the handshake.
      handshakeDone = true;
      setTimeout(() => done(undefined), 500);
    });
    socket.on('data', () => undefined);
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? '';
      const text = `${code} ${err.message}`.toLowerCase();
      if (!tlsSettings) return done(undefined); // not TLS either: the SDK's own message stands
      if (/certificate_required/.test(text)) return done(`the server requires a client certificate (mutual TLS): set ${TLS_SETTINGS.certFile} and ${TLS_SETTINGS.keyFile}`);
      if (/bad_certificate|unknown_ca|certificate_unknown|decrypt_error/.test(text)) return done(refusedCertificate);
      if (handshakeDone && tlsSettings.clientCertPair) return done(refusedCertificate);
      if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return done(`the server's certificate does not name ${host}: set ${TLS_SETTINGS.serverName} to the name it carries`);
      if (/unable_to_verify|self_signed|unable_to_get_issuer|cert_untrusted|certificate_verify_failed/.test(text)) {
        return done(`the server's certificate is not signed by the CA in ${TLS_SETTINGS.caFile}${tlsSettings.serverRootCACertificate ? '' : ' (none is set: only public CAs are trusted)'}`);
      }
      if (/wrong_version_number|packet_length_too_long|unknown protocol|eproto/.test(text)) return done(`the server at ${endpoint.address} does not speak TLS: set ${TLS_SETTINGS.tls}=false, or use its TLS port`);
      if (/alpn/.test(text)) return done(`the server does not offer HTTP/2 (ALPN h2) over TLS, which gRPC needs: is ${endpoint.address} a Temporal frontend?`);
      done(undefined);
    });
    socket.on('close', () => done(handshakeDone && tlsSettings && tlsSettings.clientCertPair ? refusedCertificate : undefined));
    const timer = setTimeout(() => done(undefined), 3_000);
  });
}

/**
 * A failed connect, explained in terms of the settings (probeTls). The SDK's own message is kept at the end, for the
 * operator who knows gRPC. `tlsProblem` is true when the settings, not the server's health, are at fault: a worker
 * that waits for a server starting up stops waiting then.
 */
export async function explainConnectFailure(err: unknown, endpoint: TemporalEndpoint, command: string): Promise<Error & { tlsProblem: boolean }> {
  const detail = err instanceof Error ? err.message : String(err);
  let finding = await probeTls(endpoint).catch(() => undefined);
  if (!finding && /unauthenticated|permission denied|request unauthorized/i.test(detail)) {
    finding = endpoint.apiKey ? `the server refused the API key (${TLS_SETTINGS.apiKey} or ${TLS_SETTINGS.apiKeyFile})` : `the server wants credentials: set ${TLS_SETTINGS.apiKeyFile}, or a client certificate`;
  }
  const why = finding ? ` ${finding.charAt(0).toUpperCase()}${finding.slice(1)}.` : '';
  const error = new Error(`${command} cannot connect to Temporal at ${endpoint.address}${endpoint.tls ? ' over TLS' : ''}.${why} (${detail})`);
  return Object.assign(error, { tlsProblem: Boolean(finding) });
}
