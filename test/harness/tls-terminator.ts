import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';

/**
 * What a production Temporal front end asks of a client, in front of a dev server that has no TLS of its own: TLS
 * with ALPN h2 (the `temporal` CLI and the SDKs insist on it), a client certificate signed by our CA, and (when we
 * look) an API key in each request's `authorization` metadata. It terminates TLS and forwards each gRPC call, headers,
 * body and trailers, to the dev server over plain HTTP/2, recording who called.
 */
export interface TlsTerminator {
  /** host:port to give as TEMPORAL_ADDRESS. */
  address: string;
  /** The name in the server certificate (not 127.0.0.1): connecting needs TEMPORAL_TLS_SERVER_NAME. */
  serverName: string;
  certs: TestCertificates;
  /** The `authorization` header of every call forwarded, in order. */
  authorizations: Array<string | undefined>;
  /** The client certificate's common name of every TLS connection accepted. */
  clientNames: string[];
  /** TLS handshakes refused (no client certificate, or one our CA did not sign). */
  refusedHandshakes: number;
  stop(): Promise<void>;
}

export interface TestCertificates {
  dir: string;
  caFile: string;
  /** A client certificate our CA signed, with its key. */
  clientCertFile: string;
  clientKeyFile: string;
  /** Another CA, which signed neither the server's certificate nor ours. */
  strangerCaFile: string;
  /** A client certificate from the other CA: the terminator refuses it. */
  strangerCertFile: string;
  strangerKeyFile: string;
  serverCertFile: string;
  serverKeyFile: string;
}

const SERVER_NAME = 'temporal.getresults.test';

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

/** A CA, a server certificate for SERVER_NAME and two client certificates (ours, a stranger's), P-256, for a day. */
export function makeTestCertificates(): TestCertificates {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gr-tls-'));
  const key = (name: string) => openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`], dir);
  const ca = (name: string) => {
    key(name);
    openssl(['req', '-x509', '-new', '-key', `${name}.key`, '-out', `${name}.pem`, '-days', '1', '-subj', `/CN=${name}`], dir);
  };
  // rustls (the worker's connection) accepts only v3 certificates with the right extensions.
  const leaf = (name: string, signer: string, extensions: string) => {
    key(name);
    openssl(['req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
    writeFileSync(path.join(dir, `${name}.ext`), extensions);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${signer}.pem`, '-CAkey', `${signer}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '1', '-extfile', `${name}.ext`], dir);
  };
  ca('test-ca');
  ca('stranger-ca');
  leaf('server', 'test-ca', `subjectAltName=DNS:${SERVER_NAME}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`);
  leaf('getresults-client', 'test-ca', 'subjectAltName=DNS:getresults-client\nextendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n');
  leaf('stranger', 'stranger-ca', 'subjectAltName=DNS:stranger\nextendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n');
  const file = (name: string) => path.join(dir, name);
  return {
    dir,
    caFile: file('test-ca.pem'),
    clientCertFile: file('getresults-client.pem'),
    clientKeyFile: file('getresults-client.key'),
    strangerCaFile: file('stranger-ca.pem'),
    strangerCertFile: file('stranger.pem'),
    strangerKeyFile: file('stranger.key'),
    serverCertFile: file('server.pem'),
    serverKeyFile: file('server.key'),
  };
}

/** Headers HTTP/2 forbids a proxy to copy, or that the upstream request sets itself. */
const NOT_FORWARDED = new Set([':method', ':path', ':scheme', ':authority', 'connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'host']);

export async function startTlsTerminator(upstreamAddress: string): Promise<TlsTerminator> {
  const certs = makeTestCertificates();
  const upstream = http2.connect(`http://${upstreamAddress}`);
  upstream.on('error', () => undefined); // a call in flight sees its own error
  const terminator: Omit<TlsTerminator, 'address' | 'stop'> = { serverName: SERVER_NAME, certs, authorizations: [], clientNames: [], refusedHandshakes: 0 };

  const server = http2.createSecureServer({
    key: readFileSync(certs.serverKeyFile),
    cert: readFileSync(certs.serverCertFile),
    ca: readFileSync(certs.caFile),
    requestCert: true,
    rejectUnauthorized: true,
    ALPNProtocols: ['h2'],
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  server.on('secureConnection', (socket: TLSSocket) => {
    const subject = socket.getPeerCertificate().subject;
    terminator.clientNames.push(typeof subject?.CN === 'string' ? subject.CN : '?');
  });
  server.on('tlsClientError', () => {
    terminator.refusedHandshakes++;
  });
  server.on('stream', (stream, headers) => {
    const auth = headers.authorization;
    terminator.authorizations.push(Array.isArray(auth) ? auth.join(',') : auth);
    const forwarded: http2.OutgoingHttpHeaders = { ':method': headers[':method'], ':path': headers[':path'] };
    for (const [name, value] of Object.entries(headers)) if (!NOT_FORWARDED.has(name) && value !== undefined) forwarded[name] = value;
    const call = upstream.request(forwarded);
    let trailers: http2.OutgoingHttpHeaders = {};
    let trailersOnly = false;
    call.on('response', (responseHeaders) => {
      if (stream.destroyed) return;
      const { [':status']: status, ...rest } = responseHeaders;
      // gRPC answers an error "trailers-only": its status rides in the headers and nothing follows.
      trailersOnly = rest['grpc-status'] !== undefined;
      stream.respond({ ':status': status, ...rest }, trailersOnly ? { endStream: true } : { waitForTrailers: true });
    });
    call.on('trailers', (received) => {
      trailers = { ...received };
    });
    stream.on('wantTrailers', () => stream.sendTrailers(trailers));
    call.on('data', (chunk: Buffer) => {
      if (!stream.destroyed && stream.headersSent) stream.write(chunk);
    });
    call.on('end', () => {
      if (!stream.destroyed && !trailersOnly) stream.end();
    });
    call.on('error', () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    stream.on('data', (chunk: Buffer) => call.write(chunk));
    stream.on('end', () => call.end());
    stream.on('close', () => {
      if (!call.closed) call.close(http2.constants.NGHTTP2_CANCEL);
    });
    stream.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    ...terminator,
    get refusedHandshakes() {
      return terminator.refusedHandshakes;
    },
    address: `127.0.0.1:${port}`,
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Long polls would hold the server open: end every session.
        for (const s of sessions) s.destroy();
      });
      upstream.destroy();
      rmSync(certs.dir, { recursive: true, force: true });
    },
  };
}
