/**
 * The optional per-clinic receipt rule: who may acknowledge a file delivered to a clinic folder.
 *
 * A clinic folder may list allowed clients (IP addresses and CIDR ranges, IPv4 and IPv6) and allowed users (the
 * names Apache logs as `%u` after HTTP authentication). With neither, any qualifying fetch counts, as before. With
 * either, a fetch counts only when its client address is in one of the ranges OR its user is one of the names: each
 * on its own identifies the clinic. A fetch that fails the rule is not an acknowledgement, but is kept as evidence
 * with the reason (src/receipts/record-fetches.ts).
 *
 * Ranges are matched with node's `net.BlockList`; an IPv4-mapped IPv6 client (`::ffff:10.0.0.1`) matches an IPv4
 * range. As in Apache's `Require ip`, host bits after the prefix are ignored (`10.1.2.5/24` is `10.1.2.0/24`).
 */
import { BlockList, isIP } from 'node:net';

export interface ReceiptRuleLists {
  allowedClients: readonly string[];
  allowedUsers: readonly string[];
}

/** No rule: any fetch counts. */
export const NO_RULE: ReceiptRuleLists = { allowedClients: [], allowedUsers: [] };

export type RuleVerdict = { counts: true } | { counts: false; reason: string };

/** Entries in a form field or CSV cell are separated by spaces, commas or semicolons. */
export function splitList(text: string): string[] {
  return text.split(/[\s,;]+/).filter((s) => s !== '');
}

type ParsedClient = { address: string; prefix: number; family: 'ipv4' | 'ipv6' };

/** One allowed-client entry: an address, or `address/prefix`. A message a person can act on when it is not one. */
export function parseClientEntry(entry: string): ParsedClient | { error: string } {
  const slash = entry.indexOf('/');
  const address = slash < 0 ? entry : entry.slice(0, slash);
  if (address.includes('%')) return { error: `"${entry}" has a zone (%…); write the address without it.` };
  const version = isIP(address);
  if (version === 0) return { error: `"${entry}" is not an IP address or range (for example 10.20.0.0/16 or 2001:db8:5::/48).` };
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const max = version === 4 ? 32 : 128;
  if (slash < 0) return { address, prefix: max, family };
  const prefixText = entry.slice(slash + 1);
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 0 && prefix <= max)) {
    return { error: `"${entry}": the number after / must be 0 to ${max} for an IPv${version} range.` };
  }
  return { address, prefix, family };
}

/** Checks and normalises a list of allowed clients; `errors` name each bad entry. Duplicates are dropped. */
export function parseAllowedClients(input: string | readonly string[]): { values: string[]; errors: string[] } {
  const entries = typeof input === 'string' ? splitList(input) : input.flatMap(splitList);
  const values: string[] = [];
  const errors: string[] = [];
  for (const entry of entries) {
    const parsed = parseClientEntry(entry);
    if ('error' in parsed) errors.push(parsed.error);
    else if (!values.includes(entry)) values.push(entry);
  }
  return { values, errors };
}

/** Checks a list of allowed `%u` user names (compared exactly, as Apache logs them). */
export function parseAllowedUsers(input: string | readonly string[]): { values: string[]; errors: string[] } {
  const entries = typeof input === 'string' ? splitList(input) : input.flatMap(splitList);
  const values: string[] = [];
  const errors: string[] = [];
  for (const entry of entries) {
    if (entry === '-' || /[\x00-\x1f\x7f"\\]/.test(entry) || entry.length > 255) {
      errors.push(`"${entry}" is not a user name Apache would log (no "-", quotes, backslashes or control characters; at most 255 characters).`);
    } else if (!values.includes(entry)) {
      values.push(entry);
    }
  }
  return { values, errors };
}

/** The rule of one clinic folder, compiled for matching many fetches. */
export class ClinicRule {
  private readonly ranges = new BlockList();
  readonly allowedClients: readonly string[];
  readonly allowedUsers: readonly string[];

  /** Entries that {@link parseAllowedClients} refuses (only possible if the table was edited by hand): they match nothing. */
  readonly unusable: string[] = [];

  constructor(
    readonly clinicFolder: string,
    lists: ReceiptRuleLists,
  ) {
    this.allowedClients = [...lists.allowedClients];
    this.allowedUsers = [...lists.allowedUsers];
    for (const entry of this.allowedClients) {
      const parsed = parseClientEntry(entry);
      // Never throw here: a bad stored entry must not stop the scan from recording every other fetch.
      if ('error' in parsed) this.unusable.push(entry);
      else this.ranges.addSubnet(parsed.address, parsed.prefix, parsed.family);
    }
  }

  /** False when the folder lists nobody: any qualifying fetch counts. */
  get active(): boolean {
    return this.allowedClients.length > 0 || this.allowedUsers.length > 0;
  }

  clientAllowed(client: string): boolean {
    const version = isIP(client);
    return version !== 0 && this.ranges.check(client, version === 4 ? 'ipv4' : 'ipv6');
  }

  check(client: string, user: string | null): RuleVerdict {
    if (!this.active) return { counts: true };
    if (this.allowedClients.length && this.clientAllowed(client)) return { counts: true };
    if (user !== null && this.allowedUsers.includes(user)) return { counts: true };
    const parts: string[] = [];
    if (this.allowedClients.length) {
      parts.push(
        isIP(client)
          ? `client ${client} is not one of ${this.clinicFolder}'s addresses`
          : `client "${client}" is not an IP address, so it is not one of ${this.clinicFolder}'s addresses`,
      );
    }
    if (this.allowedUsers.length) {
      const whose = parts.length ? 'its' : `${this.clinicFolder}'s`;
      parts.push(user === null ? `no user was signed in (${whose} users: ${this.allowedUsers.join(', ')})` : `user "${user}" is not one of ${whose} users`);
    }
    const note = this.unusable.length ? ` (the rule's entries ${this.unusable.map((u) => `"${u}"`).join(', ')} are not addresses and match nothing)` : '';
    return { counts: false, reason: `${parts.join(', and ')}${note}` };
  }

  /** `clients 10.20.0.0/16; users clinic-digawana`, or `none` for no rule. */
  describe(): string {
    return describeRule(this);
  }
}

export function describeRule(lists: ReceiptRuleLists): string {
  const parts: string[] = [];
  if (lists.allowedClients.length) parts.push(`clients ${lists.allowedClients.join(' ')}`);
  if (lists.allowedUsers.length) parts.push(`users ${lists.allowedUsers.join(' ')}`);
  return parts.length ? parts.join('; ') : 'none (any fetch counts)';
}

/** The folder a remote-folder row sends files to, spelled as the file's `clinicFolder` (see ledger-activities). */
export function clinicFolderOf(row: { basePath: string; folder: string }): string {
  return [row.basePath, row.folder].filter(Boolean).join('/');
}
