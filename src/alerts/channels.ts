/**
 * Where alerts go: e-mail through an SMTP server (nodemailer) and a webhook (a JSON POST signed with an HMAC secret).
 * A channel takes one message holding several alerts and either accepts it or throws; src/alerts/notifier.ts records
 * which, and tries again at the next sweep.
 */
import { createHmac } from 'node:crypto';
import { createTransport } from 'nodemailer';

export interface AlertMessage {
  subject: string;
  /** Plain text, one paragraph per alert, ending with the web page's address. */
  text: string;
  /** The same alerts as data (the webhook's body). */
  json: { version: 1; sentAt: string; alerts: Array<{ id: number; kind: string; lab: string | null; subject: string; period: string; raisedAt: string; summary: string; fileIds: number[]; fileNames?: Array<string | null> }>; link?: string };
}

export interface AlertChannel {
  /** `email` or `webhook`: recorded with each delivery. */
  name: 'email' | 'webhook';
  /** Who receives it, as recorded (addresses, or the URL without its query). */
  recipient: string;
  /** Resolves with what the receiver answered (message id, HTTP status); throws when it did not accept the message. */
  send(message: AlertMessage): Promise<string>;
  close(): void;
}

export interface EmailSettings {
  /** smtp://host:port or smtps://host:port; a user name may be given in the URL, its password only in passwordFile. */
  url: string;
  password?: string;
  from: string;
  to: string[];
  /** Give up on one try after this long (the next sweep tries again). */
  timeoutMs?: number;
}

export function emailChannel(settings: EmailSettings): AlertChannel {
  const url = new URL(settings.url);
  const transport = createTransport({
    host: url.hostname,
    port: url.port ? Number(url.port) : url.protocol === 'smtps:' ? 465 : 587,
    secure: url.protocol === 'smtps:',
    // STARTTLS whenever the server offers it; a server on loopback (a relay beside us) may be plain.
    requireTLS: url.protocol === 'smtp:' && !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname) ? true : undefined,
    auth: url.username ? { user: decodeURIComponent(url.username), pass: settings.password ?? '' } : undefined,
    connectionTimeout: settings.timeoutMs ?? 15_000,
    greetingTimeout: settings.timeoutMs ?? 15_000,
    socketTimeout: settings.timeoutMs ?? 30_000,
  });
  return {
    name: 'email',
    recipient: settings.to.join(', '),
    async send(message) {
      const info = await transport.sendMail({ from: settings.from, to: settings.to, subject: message.subject, text: message.text });
      return String(info.messageId);
    },
    close: () => transport.close(),
  };
}

export interface WebhookSettings {
  url: string;
  /** The shared secret the receiver checks the signature with. */
  secret: string;
  timeoutMs?: number;
}

/** The headers a receiver checks: `X-Getresults-Signature: sha256=<hex HMAC of "<timestamp>.<body>">`. */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export function webhookChannel(settings: WebhookSettings): AlertChannel {
  const shown = new URL(settings.url);
  shown.search = '';
  shown.username = '';
  shown.password = '';
  return {
    name: 'webhook',
    recipient: shown.toString(),
    async send(message) {
      const body = JSON.stringify(message.json);
      // The timestamp is signed too, so a receiver can refuse an old message replayed.
      const timestamp = String(Math.floor(Date.now() / 1000));
      const response = await fetch(settings.url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Getresults-Timestamp': timestamp, 'X-Getresults-Signature': signWebhook(settings.secret, timestamp, body) },
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(settings.timeoutMs ?? 15_000),
      }).catch((err: Error) => {
        // fetch says only "fetch failed"; the reason (refused, unknown host, timeout) is its cause.
        throw new Error(`the webhook could not be reached: ${err.cause instanceof Error ? err.cause.message : err.message}`);
      });
      await response.body?.cancel();
      if (!response.ok) throw new Error(`the webhook answered HTTP ${response.status}`);
      return `HTTP ${response.status}`;
    },
    close() {},
  };
}
