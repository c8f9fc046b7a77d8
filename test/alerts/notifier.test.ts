/**
 * The notifier against real parts: PostgreSQL holding files in every waiting state, a real SMTP server (smtp-server,
 * nodemailer's own) and an HTTP receiver, both on loopback. Temporal's part (a file's pending transfer attempt) is the
 * one thing given as data here: the Pending page's test reads it from a real Temporal.
 */
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { createAlertActivities, type AlertActivityDeps } from '../../src/activities/alert-activities';
import { emailChannel, webhookChannel } from '../../src/alerts/channels';
import { loadConfig } from '../../src/config/config';
import { migrate, openOrm, type Orm } from '../../src/db/orm';
import { DEFAULT_LAB_ID, createTestDatabase, type TestDatabase } from '../harness/database';

jest.setTimeout(60_000);

interface Mail {
  subject: string;
  text: string;
  to: string;
}
interface Hook {
  body: string;
  timestamp: string;
  signature: string;
}

const SECRET = 'webhook-secret-for-the-test';
const HOUR = 3600_000;
const DAY = 24 * HOUR;

let db: TestDatabase;
let orm: Orm;
let smtp: SMTPServer;
let smtpPort: number;
let receiver: Server;
let hookUrl: string;
const mails: Mail[] = [];
const hooks: Hook[] = [];

function startSmtp(port = 0): Promise<SMTPServer> {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, done) {
      simpleParser(stream)
        .then((parsed) => {
          mails.push({ subject: parsed.subject ?? '', text: parsed.text ?? '', to: [parsed.to ?? []].flat().map((a) => a.text).join(', ') });
          done();
        })
        .catch(done);
    },
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

beforeAll(async () => {
  db = await createTestDatabase();
  orm = await openOrm(db.url);
  await migrate(orm);
  smtp = await startSmtp();
  smtpPort = (smtp.server.address() as AddressInfo).port;
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      hooks.push({ body, timestamp: String(req.headers['x-getresults-timestamp']), signature: String(req.headers['x-getresults-signature']) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/getresults?token=not-recorded`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => (smtp ? smtp.close(() => resolve()) : resolve()));
  await new Promise((resolve) => receiver?.close(resolve));
  await orm?.close(true);
  await db?.drop();
});

/** The names and identifiers the seeded files carry: none may appear in a message unless the setting allows it. */
const PATIENT_TEXT = ['066-12000001', '12000001', '12000002', '12000003', '12000004', '12000005', '12000006', '12000007', '12000008'];

let seq = 0;
async function insertFile(state: string, times: { uploadedAt: Date; sentAt?: Date; updatedAt?: Date }, extra: { clinicFolder?: string; rejectionCode?: string; hint?: string } = {}): Promise<number> {
  seq++;
  const [row] = await orm.em.fork().getConnection().execute<Array<{ id: string }>>(
    `insert into result_file (workflow_id, run_id, file_name, upload_path, size_bytes, sha256, identifier, label, hint, clinic_folder, state, rejection_code, uploaded_at, sent_at, updated_at, lab_id)
     values (?, ?, ?, ?, 1000, ?, ?, '066', ?, ?, ?, ?, ?, ?, ?, ?) returning id`,
    [
      `file-${seq}`,
      `run-${seq}`,
      `066-1200000${seq}-3.pdf`,
      `/upload/066-1200000${seq}-3.pdf`,
      seq.toString(16).padStart(64, '0'),
      `1200000${seq}`,
      extra.hint ?? '12',
      extra.clinicFolder ?? null,
      state,
      extra.rejectionCode ?? null,
      times.uploadedAt,
      times.sentAt ?? null,
      times.updatedAt ?? times.uploadedAt,
      DEFAULT_LAB_ID,
    ],
  );
  return Number(row!.id);
}

describe('alerts by e-mail and webhook', () => {
  // The lab's day starts at a fixed local hour, so "the next day" below is always a new day.
  const start = new Date();
  start.setHours(10, 0, 0, 0);
  let clock = start.getTime();
  const ids: Record<string, number> = {};
  let failingTransferWorkflow = '';

  const activities = (overrides: Partial<AlertActivityDeps> = {}) => {
    const config = loadConfig({ GETRESULTS_DATA_DIR: '/tmp/unused' });
    return createAlertActivities({
      orm,
      workflows: {
        // The transfer of one routed file is on its 8th attempt (7 failures), another's on its 2nd.
        pendingActivities: async (run) => [{ activityType: 'transferFile', attempt: run.workflowId === failingTransferWorkflow ? 8 : 2, lastFailureMessage: 'connect ECONNREFUSED' }],
      },
      alerts: { ...config.alerts, digestHour: 8 },
      unfetchedAfterDays: 3,
      receiptScanInterval: '1m',
      linkBase: 'https://results.lab.example',
      channels: [
        emailChannel({ url: `smtp://127.0.0.1:${smtpPort}`, from: 'getresults@lab.example', to: ['oncall@lab.example', 'lab-manager@lab.example'], timeoutMs: 3000 }),
        webhookChannel({ url: hookUrl, secret: SECRET }),
      ],
      now: () => new Date(clock),
      ...overrides,
    });
  };

  beforeAll(async () => {
    const now = start.getTime();
    ids.rejected = await insertFile('REJECTED', { uploadedAt: new Date(now - HOUR) }, { rejectionCode: 'IDENTIFIER_NOT_IN_TEXT' });
    ids.rejectedLongAgo = await insertFile('REJECTED', { uploadedAt: new Date(now - 5 * DAY) }, { rejectionCode: 'NOT_A_PDF' });
    ids.needsFolder = await insertFile('NEEDS_FOLDER', { uploadedAt: new Date(now - 2 * HOUR) }, { hint: '77' });
    ids.blocked = await insertFile('TRANSFER_BLOCKED', { uploadedAt: new Date(now - 2 * HOUR) }, { clinicFolder: 'digawana' });
    ids.failing = await insertFile('RECEIVED', { uploadedAt: new Date(now - HOUR) }, { clinicFolder: 'digawana' });
    failingTransferWorkflow = `file-${seq}`;
    ids.retrying = await insertFile('RECEIVED', { uploadedAt: new Date(now - HOUR) }, { clinicFolder: 'digawana' });
    ids.unfetched1 = await insertFile('AWAITING_ACK', { uploadedAt: new Date(now - 4 * DAY), sentAt: new Date(now - 4 * DAY) }, { clinicFolder: 'digawana' });
    ids.unfetched2 = await insertFile('AWAITING_ACK', { uploadedAt: new Date(now - 5 * DAY), sentAt: new Date(now - 5 * DAY) }, { clinicFolder: 'digawana' });
    ids.fresh = await insertFile('AWAITING_ACK', { uploadedAt: new Date(now - HOUR), sentAt: new Date(now - HOUR) }, { clinicFolder: 'digawana' });
  });

  /** The e-mail deliveries of one alert subject, as recorded. */
  const emailDeliveriesOf = (subject: string) =>
    orm.em.fork().getConnection().execute<Array<{ status: string; attempts: number; last_error: string | null }>>(
      `select d.status, d.attempts, d.last_error from alert_delivery d join alert a on a.id = d.alert_id where a.subject = ? and d.channel = 'email'`,
      [subject],
    );

  const kindsIn = (hook: Hook) => (JSON.parse(hook.body) as { alerts: Array<{ kind: string; subject: string }> }).alerts.map((a) => `${a.kind} ${a.subject}`).sort();

  test('the first sweep tells both channels once, signed, naming files by number only', async () => {
    const sweep = activities();
    // Ten minutes later with no finished receipt scan (interval 1 minute, 3 may be missed).
    clock = start.getTime() + 10 * 60_000;
    expect(await sweep.raiseAlerts()).toEqual({ found: 7, raised: 7 });
    const outcomes = await sweep.sendAlerts();
    expect(outcomes.map((o) => [o.channel, o.alerts, o.sent])).toEqual([
      ['email', 7, true],
      ['webhook', 7, true],
    ]);

    expect(mails).toHaveLength(1);
    expect(mails[0]!.to).toBe('oncall@lab.example, lab-manager@lab.example');
    expect(mails[0]!.subject).toBe('[getresults default] 1 rejected, 1 waiting for a folder, 1 held by server B, 1 transfer failing, 1 not fetched, 1 receipt scan stopped, 1 daily digest');
    const text = mails[0]!.text;
    expect(text).toContain(`File #${ids.rejected} was rejected (identifier not in text)`);
    expect(text).toContain(`File #${ids.needsFolder} waits for a clinic folder mapping (hint 066 77)`);
    expect(text).toContain(`File #${ids.failing}: its transfer to server B has failed 7 times`);
    expect(text).toContain(`Clinic folder digawana: 2 file(s) sent more than 3 day(s) ago and not fetched: #${ids.unfetched1}, #${ids.unfetched2}.`);
    expect(text).toContain('No scan of server B\'s access log has finished yet');
    expect(text).toContain('Lab default, last 24 hours: 6 received');
    expect(text).toContain(`https://results.lab.example/files/${ids.needsFolder}`);
    expect(text).not.toContain(`#${ids.rejectedLongAgo} `);
    expect(text).not.toContain(`#${ids.retrying}:`);

    expect(hooks).toHaveLength(1);
    const hook = hooks[0]!;
    // The receiver's check: HMAC-SHA256 of "<timestamp>.<body>" with the shared secret.
    expect(hook.signature).toBe(`sha256=${createHmac('sha256', SECRET).update(`${hook.timestamp}.${hook.body}`).digest('hex')}`);
    expect(hook.signature).not.toBe(`sha256=${createHmac('sha256', 'another secret').update(`${hook.timestamp}.${hook.body}`).digest('hex')}`);
    expect(kindsIn(hook)).toEqual(
      [
        `file-rejected file:${ids.rejected}`,
        `waiting-for-folder file:${ids.needsFolder}`,
        `transfer-blocked file:${ids.blocked}`,
        `transfer-failing file:${ids.failing}`,
        'unfetched clinic:default/digawana',
        'receipt-scan-stalled receipt-scan',
        'daily-digest lab:default',
      ].sort(),
    );
    for (const patient of PATIENT_TEXT) {
      expect(`${mails[0]!.subject}\n${text}`).not.toContain(patient);
      expect(hook.body).not.toContain(patient);
    }

    // Recorded: who was told (the webhook's URL without its query), when, and what the receiver answered.
    const told = await orm.em.fork().getConnection().execute<Array<{ channel: string; recipient: string; status: string; n: number }>>(
      `select channel, recipient, status, count(*)::int as n from alert_delivery group by channel, recipient, status order by channel`,
    );
    expect(told).toEqual([
      { channel: 'email', recipient: 'oncall@lab.example, lab-manager@lab.example', status: 'sent', n: 7 },
      { channel: 'webhook', recipient: hookUrl.replace(/\?.*$/, ''), status: 'sent', n: 7 },
    ]);
  });

  test('the same conditions the same day, and after a restart, tell nobody again', async () => {
    clock += 5 * 60_000;
    const sweep = activities();
    // (A worker that has just started gives the scan its intervals again: six conditions, not seven.)
    expect(await sweep.raiseAlerts()).toEqual({ found: 6, raised: 0 });
    expect(await sweep.sendAlerts()).toEqual([]);
    // A restarted worker: a new process, the same database.
    const restarted = activities();
    clock += 5 * 60_000;
    expect((await restarted.raiseAlerts()).raised).toBe(0);
    await restarted.sendAlerts();
    expect(mails).toHaveLength(1);
    expect(hooks).toHaveLength(1);
  });

  test('the next day, what still holds is told again; a rejection is not', async () => {
    clock = start.getTime() + DAY + 30 * 60_000;
    // A worker started this morning: the scan has not finished for more than three intervals since.
    const sweep = activities();
    clock += 10 * 60_000;
    const { raised } = await sweep.raiseAlerts();
    await sweep.sendAlerts();
    expect(mails).toHaveLength(2);
    const kinds = kindsIn(hooks[1]!);
    expect(kinds).toEqual(
      [
        `waiting-for-folder file:${ids.needsFolder}`,
        `transfer-blocked file:${ids.blocked}`,
        `transfer-failing file:${ids.failing}`,
        'unfetched clinic:default/digawana',
        'receipt-scan-stalled receipt-scan',
        'daily-digest lab:default',
      ].sort(),
    );
    expect(raised).toBe(kinds.length);
  });

  test('a mail server that is down keeps the alert pending with its error; once it is back the alert goes, once', async () => {
    await new Promise<void>((resolve) => smtp.close(() => resolve()));
    const sweep = activities();
    clock += 60_000;
    ids.needsFolder2 = await insertFile('NEEDS_FOLDER', { uploadedAt: new Date(clock - HOUR) }, { hint: '78' });
    expect((await sweep.raiseAlerts()).raised).toBe(1);
    await expect(sweep.sendAlerts()).rejects.toThrow(/Alerts not delivered: email \(1 alert\(s\)\): .*ECONNREFUSED/);
    // The webhook took it; the e-mail is pending, counted and explained.
    expect(kindsIn(hooks[2]!)).toEqual([`waiting-for-folder file:${ids.needsFolder2}`]);
    const pending = await emailDeliveriesOf(`file:${ids.needsFolder2}`);
    expect(pending).toEqual([{ status: 'pending', attempts: 1, last_error: expect.stringContaining('ECONNREFUSED') as string }]);
    await expect(sweep.sendAlerts()).rejects.toThrow(/not delivered/);

    smtp = await startSmtp(smtpPort);
    const outcomes = await sweep.sendAlerts();
    expect(outcomes).toEqual([{ channel: 'email', alerts: 1, sent: true }]);
    expect(mails).toHaveLength(3);
    expect(mails[2]!.text).toContain(`File #${ids.needsFolder2} waits for a clinic folder mapping (hint 066 78)`);
    expect(hooks).toHaveLength(3);
    const [after] = await emailDeliveriesOf(`file:${ids.needsFolder2}`);
    expect(after).toEqual({ status: 'sent', attempts: 3, last_error: null });
  });

  test('file names go into a message only when the setting allows it', async () => {
    const config = loadConfig({ GETRESULTS_DATA_DIR: '/tmp/unused', GETRESULTS_ALERT_INCLUDE_FILE_NAMES: 'true' });
    expect(config.alerts.includeFileNames).toBe(true);
    const sweep = activities({ alerts: { ...config.alerts, digestHour: 8 } });
    clock += 60_000;
    ids.rejected2 = await insertFile('REJECTED', { uploadedAt: new Date(clock - 60_000) }, { rejectionCode: 'NAME_NO_PATTERN' });
    await sweep.raiseAlerts();
    await sweep.sendAlerts();
    expect(mails).toHaveLength(4);
    expect(mails[3]!.text).toContain(`Files: #${ids.rejected2} 066-1200000${seq}-3.pdf`);
  });
});

describe('alert settings', () => {
  test('a channel half set, or a password in the mail server\'s URL, is refused with the setting to fix', () => {
    expect(() => loadConfig({ GETRESULTS_ALERT_SMTP_URL: 'smtp://mail.lab.example:587' })).toThrow(/need both GETRESULTS_ALERT_SMTP_URL and GETRESULTS_ALERT_EMAIL_TO/);
    expect(() => loadConfig({ GETRESULTS_ALERT_SMTP_URL: 'smtp://alerts:hunter2@mail.lab.example', GETRESULTS_ALERT_EMAIL_TO: 'a@lab.example' })).toThrow(/GETRESULTS_ALERT_SMTP_PASSWORD_FILE/);
    expect(() => loadConfig({ GETRESULTS_ALERT_WEBHOOK_URL: 'https://hooks.lab.example/x' })).toThrow(/GETRESULTS_ALERT_WEBHOOK_SECRET_FILE/);
    const config = loadConfig({ GETRESULTS_ALERT_SMTP_URL: 'smtp://alerts@mail.lab.example', GETRESULTS_ALERT_EMAIL_TO: 'a@lab.example, b@lab.example ' });
    expect(config.alerts.email?.to).toEqual(['a@lab.example', 'b@lab.example']);
  });
});
