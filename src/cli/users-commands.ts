import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { loadConfig } from '../config/config';
import { Lab, User } from '../db/entities';
import { addUser, setDisabled, setPassword } from '../web/auth/users';
import { log, withOrm } from './runtime';

/** Reads a line from a terminal without echoing it. */
function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    let value = '';
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') {
          done();
          process.stderr.write('\n');
          return resolve(value);
        }
        if (ch === '\u0003') {
          done();
          return reject(new Error('Cancelled.'));
        }
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    const done = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
    };
    stdin.on('data', onData);
  });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The new password: from --password-file, else typed twice at a terminal, else the first line of stdin. Never from
 * the command line, where other users could read it in the process list and shells keep it in history.
 */
async function readNewPassword(passwordFile: string | undefined): Promise<string> {
  const firstLine = (text: string) => text.split(/\r?\n/)[0] ?? '';
  if (passwordFile) return firstLine(await readFile(passwordFile, 'utf8'));
  if (process.stdin.isTTY) {
    const first = await promptHidden('New password: ');
    const again = await promptHidden('Again: ');
    if (first !== again) throw new Error('The two passwords differ; nothing was changed.');
    return first;
  }
  return firstLine(await readStdin());
}

/** `getresults users ...`: accounts for the web page. */
export function registerUsersCommands(program: Command): void {
  const users = program.command('users').description('Accounts for the web page. Needs DATABASE_URL.');
  users
    .command('add')
    .description('Add a user (a technician unless --admin). The password comes from --password-file, a terminal prompt, or stdin.')
    .argument('<username>')
    .option('--admin', 'may also edit the remote-folder table; without --lab, of the whole deployment (every lab)')
    .option('--lab <name>', 'the lab whose files the user sees (a technician\'s default: the lab "default")')
    .option('--password-file <file>', 'read the password from the first line of this file')
    .action(async (username: string, opts: { admin?: boolean; lab?: string; passwordFile?: string }) => {
      const password = await readNewPassword(opts.passwordFile);
      const user = await withOrm(loadConfig(), 'getresults users add', (orm) => addUser(orm.em.fork(), username, password, opts.admin ? 'admin' : 'technician', opts.lab));
      log(`Added ${user.role} ${user.username}${user.labId === null ? ' (every lab)' : ''}.`);
    });
  users
    .command('passwd')
    .description('Set a user\'s password (and sign them out everywhere).')
    .argument('<username>')
    .option('--password-file <file>', 'read the password from the first line of this file')
    .action(async (username: string, opts: { passwordFile?: string }) => {
      const password = await readNewPassword(opts.passwordFile);
      const user = await withOrm(loadConfig(), 'getresults users passwd', (orm) => setPassword(orm.em.fork(), username, password));
      log(`Password of ${user.username} changed; their sessions were ended.`);
    });
  for (const [name, disabled] of [['disable', true], ['enable', false]] as const) {
    users
      .command(name)
      .description(disabled ? 'Stop a user from signing in (and end their sessions).' : 'Let a disabled user sign in again.')
      .argument('<username>')
      .action(async (username: string) => {
        const user = await withOrm(loadConfig(), `getresults users ${name}`, (orm) => setDisabled(orm.em.fork(), username, disabled));
        log(`${user.username} is ${disabled ? 'disabled' : 'enabled'}.`);
      });
  }
  users
    .command('list')
    .description('List users.')
    .action(async () => {
      const [rows, labs] = await withOrm(loadConfig(), 'getresults users list', async (orm) => {
        const em = orm.em.fork();
        return Promise.all([em.find(User, {}, { orderBy: { username: 'asc' } }), em.find(Lab, {})]);
      });
      for (const u of rows) {
        const lab = u.labId === null ? 'every lab' : `lab ${labs.find((l) => l.id === u.labId)?.name ?? u.labId}`;
        process.stdout.write(`${u.username}\t${u.role}\t${lab}\t${u.disabled ? 'disabled' : 'active'}\tsince ${u.createdAt.toISOString().slice(0, 10)}\n`);
      }
      if (!rows.length) log('No users yet: add one with "getresults users add <name> --admin".');
    });
}
