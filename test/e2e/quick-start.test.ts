import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writePdf } from '../harness/pdf';
import { sha256OfFile } from '../harness/sshd';
import { embeddedStartEnv } from '../harness/start-env';
import { waitFor } from '../harness/wait-for';

const CLI = path.join(__dirname, '..', '..', 'bin', 'getresults.js');

/**
 * The README's first Quick start line: `npx getresults start` with no configuration at all starts embedded PostgreSQL,
 * a Temporal dev server, the worker, the watcher and the web page, and delivers a dropped PDF to the local destination.
 * Only the ports are moved off their defaults so the test cannot collide with anything on the machine.
 */
describe('getresults start on embedded defaults', () => {
  let cwd: string;
  let child: ChildProcess | undefined;
  let output = '';

  beforeAll(() => {
    cwd = mkdtempSync(path.join(os.tmpdir(), 'gr-quickstart-'));
  });

  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
    }
    rmSync(cwd, { recursive: true, force: true });
    // As root with a private temp folder, the cluster lives under /var/lib/getresults (see src/db/embedded-postgres.ts).
    const clusterDir = /\(embedded, files in (\S+?);/.exec(output)?.[1];
    if (clusterDir?.startsWith('/var/lib/getresults/')) rmSync(clusterDir, { recursive: true, force: true });
  });

  it('prints where everything is, delivers a dropped PDF, and stops cleanly', async () => {
    const env = await embeddedStartEnv({
      // The alert sweep's Schedule and the stand-in's receipt scan, quick enough to see them run below.
      GETRESULTS_ALERT_INTERVAL: '2s',
      GETRESULTS_STANDIN_SCAN_INTERVAL: '3s',
    });
    child = spawn(process.execPath, [CLI, 'start'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));

    const exitedEarly = new Promise<never>((_, reject) => child!.once('exit', (code) => reject(new Error(`getresults start exited (${code})`))));
    exitedEarly.catch(() => undefined); // it exits at the end of the test too
    await Promise.race([waitFor('the start banner', () => output.includes('Press Ctrl+C to stop.'), { timeoutMs: 90_000 }), exitedEarly]).catch(
      (err: Error) => {
        throw new Error(`${err.message}\n--- output ---\n${output}`);
      },
    );
    const uploadDir = /Upload folder:\s+(\S+)/.exec(output)?.[1];
    expect(uploadDir).toBe(path.join(cwd, 'data', 'upload'));
    expect(output).toMatch(/Temporal UI:\s+http:\/\/127\.0\.0\.1:\d+/);
    const webUrl = /Web page:\s+(\S+)/.exec(output)?.[1];
    expect(webUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(output).not.toMatch(/postgres:\/\/postgres:[^@]+@/); // the generated password is never printed

    expect(output).toContain(`password in ${path.join(cwd, 'data', 'initial-admin-password')}`);
    const login = await fetch(`${webUrl}/`, { redirect: 'manual', headers: { Accept: 'text/html' } });
    expect(login.status).toBe(302); // the page is behind login
    const health = await fetch(`${webUrl}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', components: { database: 'up', temporal: 'up' } });
    // The dev server's UI is pointed at our codec endpoint, so a signed-in operator sees payloads decoded there.
    const uiUrl = /Temporal UI:\s+(\S+)/.exec(output)![1]!;
    const uiSettings = (await (await fetch(`${uiUrl}/api/v1/settings`)).json()) as { Codec?: { Endpoint?: string } };
    expect(uiSettings.Codec?.Endpoint).toBe(`${webUrl}/codec`);

    const source = path.join(cwd, '066-12000001-3.pdf');
    writePdf(source, '066-12000001-3');
    const expected = await sha256OfFile(source);
    // A plain copy into the folder, as a technician's file manager would do it.
    copyFileSync(source, path.join(uploadDir!, '066-12000001-3.pdf'));

    const delivered = path.join(cwd, 'data', 'destination', 'viral_load', 'digawana', '066-12000001-3.pdf');
    await waitFor('the PDF in the local destination folder', () => existsSync(delivered), { timeoutMs: 60_000 });
    expect(await sha256OfFile(delivered)).toBe(expected);
    await waitFor('the original to be archived', () => !existsSync(path.join(uploadDir!, '066-12000001-3.pdf')));

    // The operator's probes and metrics, on the web port without a login (issue 14), as the banner names them.
    expect(output).toContain(`${webUrl}/healthz, ${webUrl}/readyz; metrics: ${webUrl}/metrics`);
    expect((await fetch(`${webUrl}/healthz`)).status).toBe(200);
    const ready = await fetch(`${webUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', components: { database: 'up', temporal: 'up', 'server B': 'up' } });
    const metrics = await waitFor('the file in the metrics', async () => {
      const text = await (await fetch(`${webUrl}/metrics`)).text();
      return /getresults_files\{[^}]*state="AWAITING_ACK"[^}]*\} 1\n/.test(text) ? text : undefined;
    });
    expect(Number(/getresults_transfer_bytes_total\{[^}]*outcome="delivered"[^}]*\} (\d+)/.exec(metrics)?.[1])).toBe(readFileSync(source).length);
    expect(metrics).toMatch(/getresults_files_submitted_total\{[^}]*\} 1\n/);
    expect(metrics).toMatch(/getresults_oldest_waiting_file_age_seconds\{[^}]*state="AWAITING_ACK"[^}]*\} \d/);
    // The Temporal SDK's own runtime metrics come with ours.
    expect(metrics).toMatch(/^temporal_\w+/m);
    expect(metrics).not.toContain('066-12000001-3');

    // The whole loop on the embedded default: the banner's stand-in server B serves the delivered file, as a clinic
    // fetches it, and the receipt scan of its access log marks the file fetched.
    const standIn = /Server B:\s+stand-in at (\S+) serving (\S+) \(open /.exec(output);
    expect(standIn?.[2]).toBe(path.join(cwd, 'data', 'destination'));
    expect(output).toMatch(/Receipt scan:\s+\S+serverb-access\.log every 3s \(the stand-in's log; Temporal Schedule getresults-log-scan\)/);
    expect((await fetch(`${standIn![1]}viral_load/digawana/nothing-here.pdf`)).status).toBe(404);
    const fetched = await fetch(`${standIn![1]}viral_load/digawana/066-12000001-3.pdf`);
    expect(fetched.status).toBe(200);
    expect(Buffer.from(await fetched.arrayBuffer()).equals(readFileSync(source))).toBe(true);
    await waitFor('the file marked fetched by the receipt scan', async () => {
      const text = await (await fetch(`${webUrl}/metrics`)).text();
      return /getresults_files\{[^}]*state="ACKNOWLEDGED"[^}]*\} 1\n/.test(text);
    }, { timeoutMs: 45_000 });

    // The alert sweep runs on its Temporal Schedule through the real worker and database; with no channel set it only
    // records, and the banner says how to set one.
    expect(output).toMatch(/Alerts:\s+recorded only: set GETRESULTS_ALERT_SMTP_URL/);
    const temporalAddress = /Temporal:\s+(\S+)/.exec(output)![1]!;
    const temporalCli = process.env.TEMPORAL_CLI_PATH ?? 'temporal';
    const sweeps = await waitFor('a finished alert sweep', () => {
      const listed = spawnSync(temporalCli, ['workflow', 'list', '--address', temporalAddress, '--query', "WorkflowType='sweepAlerts' AND ExecutionStatus='Completed'", '-o', 'json'], { encoding: 'utf8' });
      return listed.status === 0 && listed.stdout.includes('alert-sweep') ? listed.stdout : undefined;
    }, { timeoutMs: 30_000 });
    // The Schedule names each run it starts after its workflow id and the scheduled time.
    expect(sweeps).toMatch(/"workflowId": "alert-sweep-\d{4}-\d\d-\d\dT/);

    child.kill('SIGTERM');
    const code = await new Promise((resolve) => child!.once('exit', (c, s) => resolve(c ?? s)));
    expect(code).toBe(0);
    // Every part stopped without complaint: among them the one Temporal connection, closed after the workers let go of it.
    expect(output).not.toContain('While stopping');
    expect(readFileSync(path.join(cwd, 'data', 'postgres', 'password'), 'utf8').length).toBeGreaterThan(10);
  });
});
