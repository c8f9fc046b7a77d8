/**
 * Server B's half of the job (issue 14): the Apache configuration that serves each clinic its own folder, and only
 * its own, and logs every request in the format the receipt scan reads. Written from the remote-folder table and the
 * clinics' receipt rules, so the page's rule and the server's access agree: whoever Apache lets fetch a clinic's file
 * is whom the scan counts as that clinic (src/remote-folders/clinic-rule.ts).
 *
 * Pure: the command (src/cli/serverb-commands.ts) loads the folders and writes the text.
 */
import { parseClientEntry, type ReceiptRuleLists } from '../remote-folders/clinic-rule';
import { LOG_FORMAT_PRESETS } from '../access-log/log-format';

export interface ClinicFolderAccess {
  /** `base_path/folder`, as a file's record spells it. */
  clinicFolder: string;
  /** Its receipt rule; absent or empty: no rule. */
  rule?: ReceiptRuleLists;
}

/** What a clinic folder without a rule gets: nobody (the default, and what a new clinic should start with), or anyone. */
export type UnruledAccess = 'deny' | 'open';

export interface ApacheConfigInput {
  folders: readonly ClinicFolderAccess[];
  /** Server B's folder that holds the clinic folders: the SFTP destination's base path there. */
  documentRoot: string;
  /** URL path at which that folder is served (GETRESULTS_ACK_URL_PREFIX). */
  urlPrefix: string;
  /** Where Apache writes the access log the scan reads (GETRESULTS_ACCESS_LOG on server B). */
  accessLog: string;
  /** The LogFormat the scan expects (GETRESULTS_ACCESS_LOG_FORMAT): a preset name or the format itself. */
  logFormat: string;
  /** The htpasswd file of the clinics' HTTP basic credentials (made with Apache's `htpasswd -B`). */
  authUserFile: string;
  unruled: UnruledAccess;
  /** Written into the header, so the file says when and from what it was made. */
  generatedAt: Date;
}

export interface ApacheConfig {
  text: string;
  /** Clinic folders without a receipt rule, which get `unruled`: the command names them. */
  foldersWithoutRule: string[];
}

/** A refusal to write a configuration Apache would read differently from what it says. */
export class ApacheConfigRefused extends Error {
  override name = 'ApacheConfigRefused';
}

// Folder segments, paths and user names are written into quoted Apache directives: only characters that need no
// quoting inside them, so a row of the folder table can never add a directive of its own.
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/;
const USER = /^[A-Za-z0-9_][A-Za-z0-9_.@+-]*$/;
const SAFE_PATH = /^\/[A-Za-z0-9_./+-]*$/;

function clinicPath(clinicFolder: string): string {
  const segments = clinicFolder.split('/');
  if (!segments.every((s) => SEGMENT.test(s) && s !== '.' && s !== '..')) {
    throw new ApacheConfigRefused(
      `The clinic folder "${clinicFolder}" has a character Apache's configuration would need quoting for (letters, digits, _ . + - and / between folders only); rename it in the folder table first.`,
    );
  }
  return segments.join('/');
}

function safePath(what: string, value: string): string {
  if (!SAFE_PATH.test(value) || value.split('/').includes('..')) {
    throw new ApacheConfigRefused(`${what} "${value}" must be an absolute path of letters, digits and _ . + - /.`);
  }
  return value.replace(/\/+$/, '') || '/';
}

/** The LogFormat as an Apache string: its quotes and backslashes escaped. */
function quotedFormat(format: string): string {
  const resolved = LOG_FORMAT_PRESETS[format] ?? format;
  if (/[\r\n]/.test(resolved)) throw new ApacheConfigRefused('The access-log format spans several lines; Apache takes one.');
  return `"${resolved.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function accessRules(folder: ClinicFolderAccess, input: ApacheConfigInput): string[] {
  const clients = folder.rule?.allowedClients ?? [];
  const users = folder.rule?.allowedUsers ?? [];
  for (const client of clients) {
    const parsed = parseClientEntry(client);
    if ('error' in parsed) throw new ApacheConfigRefused(`The receipt rule of ${folder.clinicFolder}: ${parsed.error}`);
  }
  for (const user of users) {
    if (!USER.test(user)) throw new ApacheConfigRefused(`The receipt rule of ${folder.clinicFolder} names the user "${user}", which Apache's Require user cannot take as written.`);
  }
  if (!clients.length && !users.length) {
    return input.unruled === 'open'
      ? ['  # No receipt rule: anyone may fetch, and every fetch counts as the clinic\'s (--unruled open).', '  Require all granted']
      : ['  # No receipt rule yet: nobody may fetch. Give the folder allowed_clients or allowed_users, then write this again.', '  Require all denied'];
  }
  const lines: string[] = [];
  if (users.length) {
    lines.push(`  AuthType Basic`, `  AuthName "${folder.clinicFolder}"`, `  AuthBasicProvider file`, `  AuthUserFile "${input.authUserFile}"`);
  }
  // As the receipt rule reads: an allowed address OR an allowed user.
  const requires = [...(clients.length ? [`Require ip ${clients.join(' ')}`] : []), ...(users.length ? [`Require user ${users.join(' ')}`] : [])];
  if (requires.length === 1) lines.push(`  ${requires[0]}`);
  else lines.push('  <RequireAny>', ...requires.map((r) => `    ${r}`), '  </RequireAny>');
  return lines;
}

export function renderApacheConfig(input: ApacheConfigInput): ApacheConfig {
  const root = safePath('The document root', input.documentRoot);
  const prefix = input.urlPrefix.endsWith('/') ? input.urlPrefix : `${input.urlPrefix}/`;
  if (!SAFE_PATH.test(prefix)) throw new ApacheConfigRefused(`The URL prefix "${input.urlPrefix}" must be a path of letters, digits and _ . + - /.`);
  const authUserFile = safePath('The htpasswd file', input.authUserFile);
  const accessLog = safePath('The access log', input.accessLog);
  const byFolder = new Map<string, ClinicFolderAccess>();
  for (const f of input.folders) if (!byFolder.has(f.clinicFolder)) byFolder.set(f.clinicFolder, f);
  const folders = [...byFolder.values()].sort((a, b) => a.clinicFolder.localeCompare(b.clinicFolder));
  const foldersWithoutRule = folders.filter((f) => !f.rule?.allowedClients.length && !f.rule?.allowedUsers.length).map((f) => f.clinicFolder);

  const lines = [
    `# Server B for getresults-distribute: each clinic reaches its own folder only.`,
    `# Written by "getresults serverb apache-config" from the remote-folder table at ${input.generatedAt.toISOString()}.`,
    `# Do not edit by hand: change the folder table or a clinic's receipt rule and write it again.`,
    `# Needs mod_alias, mod_authz_core, mod_authz_host, mod_authn_core, mod_authn_file, mod_auth_basic, mod_authz_user, mod_log_config.`,
    '',
    `# The format the receipt scan reads (GETRESULTS_ACCESS_LOG_FORMAT).`,
    `LogFormat ${quotedFormat(input.logFormat)} getresults`,
    `CustomLog "${accessLog}" getresults`,
    '',
    prefix === '/' ? `DocumentRoot "${root}"` : `Alias "${prefix}" "${root}/"`,
    '',
    `# Nothing outside a clinic's own folder, and no folder listings anywhere.`,
    `<Directory "${root}">`,
    `  Options -Indexes -FollowSymLinks`,
    `  AllowOverride None`,
    `  Require all denied`,
    `</Directory>`,
  ];
  for (const folder of folders) {
    lines.push('', `<Directory "${root}/${clinicPath(folder.clinicFolder)}">`, `  Options -Indexes -FollowSymLinks`, ...accessRules(folder, { ...input, authUserFile }), `</Directory>`);
  }
  lines.push('');
  return { text: lines.join('\n'), foldersWithoutRule };
}
