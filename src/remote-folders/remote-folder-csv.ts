/**
 * The remote-folder table as CSV: parsed (and checked) for an import, written for an export. The export always has
 * the receipt rule columns, so a table exported and imported again keeps its rules; an import without them keeps
 * the stored rules.
 */
import { parse } from 'csv-parse/sync';
import { csvField } from '../domain/csv';
import { clinicFolderOf, describeRule, NO_RULE, parseAllowedClients, parseAllowedUsers, type ReceiptRuleLists } from './clinic-rule';

/** The columns every import needs. */
export const REMOTE_FOLDER_CSV_HEADER = 'base_path,folder,folder_tag,label';
const EXPORT_HEADER = `${REMOTE_FOLDER_CSV_HEADER},allowed_clients,allowed_users`;

export interface RemoteFolderRow {
  basePath: string;
  folder: string;
  folderTag: string;
  label: string;
  /** The optional receipt rule columns; undefined when the CSV has no such column (the stored rule is then kept). */
  allowedClients?: string[];
  allowedUsers?: string[];
}

export interface CsvReport {
  rows: RemoteFolderRow[];
  /**
   * The receipt rule of each clinic folder the CSV lists, when it has an `allowed_clients` or `allowed_users`
   * column: all its rows' entries together (an empty list removes the rule). Undefined without those columns.
   */
  rules?: Map<string, ReceiptRuleLists>;
  /** Problems that stop the import (missing columns, bad values, one tag mapped twice). */
  errors: string[];
  /** Things a person should look at; the import goes ahead and nothing is guessed. */
  warnings: string[];
}

const REQUIRED = ['base_path', 'folder', 'folder_tag', 'label'] as const;

/** The table as CSV, each row with its clinic folder's receipt rule (entries separated by spaces). */
export function remoteFolderCsv(rows: readonly RemoteFolderRow[], rules: ReadonlyMap<string, ReceiptRuleLists> = new Map()): string {
  const line = (r: RemoteFolderRow) => {
    const rule = rules.get(clinicFolderOf(r)) ?? NO_RULE;
    return [r.basePath, r.folder, r.folderTag, r.label, rule.allowedClients.join(' '), rule.allowedUsers.join(' ')].map(csvField).join(',');
  };
  return `${EXPORT_HEADER}\n${rows.map(line).join('\n')}\n`;
}

/** One row checked by the importer's own rules, so a form and an import can never disagree. */
export function checkFolderRow(row: RemoteFolderRow): string[] {
  return parseRemoteFolderCsv(remoteFolderCsv([row])).errors.map((e) => e.replace(/^Line \d+: /, ''));
}
const SAFE_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9 _.-]*$/;

/** Levenshtein distance, bounded: we only care whether two names are within `max` edits. */
function withinEdits(a: string, b: string, max: number): boolean {
  if (Math.abs(a.length - b.length) > max) return false;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      cur.push(v);
      rowMin = Math.min(rowMin, v);
    }
    if (rowMin > max) return false;
    prev = cur;
  }
  return prev[b.length]! <= max;
}

/**
 * Parses the remote-folder table (`base_path,folder,folder_tag,label`, optionally `allowed_clients,allowed_users`:
 * the clinic folder's receipt rule) and reports what a careful person would
 * notice: clinic names spelled two ways, and a label whose rows copy another label's. It never corrects anything.
 */
export function parseRemoteFolderCsv(text: string): CsvReport {
  const errors: string[] = [];
  const warnings: string[] = [];
  let records: Record<string, string>[];
  try {
    records = parse(text, { columns: true, skip_empty_lines: true, trim: true, bom: true });
  } catch (err) {
    return { rows: [], errors: [`The CSV could not be read: ${(err as Error).message}`], warnings };
  }
  const header = records.length ? Object.keys(records[0]!) : [];
  const missing = REQUIRED.filter((c) => records.length && !header.includes(c));
  if (missing.length) return { rows: [], errors: [`The CSV lacks column(s) ${missing.join(', ')}; expected ${REQUIRED.join(',')}.`], warnings };

  const hasClients = header.includes('allowed_clients');
  const hasUsers = header.includes('allowed_users');
  const ruleLines = new Map<string, Array<{ line: number; lists: ReceiptRuleLists }>>();
  const rows: RemoteFolderRow[] = [];
  const byKey = new Map<string, { row: RemoteFolderRow; line: number }>();
  records.forEach((r, i) => {
    const line = i + 2; // 1-based, after the header
    const row: RemoteFolderRow = { basePath: r.base_path ?? '', folder: r.folder ?? '', folderTag: r.folder_tag ?? '', label: r.label ?? '' };
    if (hasClients || hasUsers) {
      const clients = parseAllowedClients(r.allowed_clients ?? '');
      const users = parseAllowedUsers(r.allowed_users ?? '');
      for (const e of clients.errors) errors.push(`Line ${line}: allowed_clients ${e}`);
      for (const e of users.errors) errors.push(`Line ${line}: allowed_users ${e}`);
      if (hasClients) row.allowedClients = clients.values;
      if (hasUsers) row.allowedUsers = users.values;
      const folder = clinicFolderOf(row);
      ruleLines.set(folder, [...(ruleLines.get(folder) ?? []), { line, lists: { allowedClients: clients.values, allowedUsers: users.values } }]);
    }
    for (const [column, value] of [['folder', row.folder], ['folder_tag', row.folderTag], ['label', row.label]] as const) {
      if (!value) errors.push(`Line ${line}: ${column} is empty.`);
      else if (!SAFE_SEGMENT.test(value)) errors.push(`Line ${line}: ${column} "${value}" may hold only letters, digits, space, dot, dash and underscore.`);
    }
    if (row.basePath && row.basePath.split('/').some((s) => s === '..' || (s !== '' && !SAFE_SEGMENT.test(s)))) {
      errors.push(`Line ${line}: base_path "${row.basePath}" is not a plain relative folder path.`);
    }
    const key = `${row.label}\u0000${row.folderTag}`;
    const earlier = byKey.get(key);
    if (earlier && (earlier.row.folder !== row.folder || earlier.row.basePath !== row.basePath)) {
      errors.push(`Line ${line}: ${row.label} tag ${row.folderTag} is already mapped to ${earlier.row.folder} on line ${earlier.line}; one tag must name one folder.`);
    } else if (earlier) {
      warnings.push(`Line ${line} repeats line ${earlier.line} (${row.label} ${row.folderTag} ${row.folder}).`);
    } else {
      byKey.set(key, { row, line });
      rows.push(row);
    }
  });

  const names = [...new Set(rows.map((r) => r.folder))].sort();
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      const a = names[i]!;
      const b = names[j]!;
      // One edit apart, or two for long names: close enough to be a misspelling, far enough to spare manga/masunga.
      const edits = Math.min(a.length, b.length) >= 10 ? 2 : 1;
      if (withinEdits(a.toLowerCase(), b.toLowerCase(), edits)) {
        warnings.push(`Folders "${a}" and "${b}" look like one clinic spelled two ways; check which one server B really has.`);
      }
    }
  }

  const labels = [...new Set(rows.map((r) => r.label))];
  const signature = (label: string) =>
    rows.filter((r) => r.label === label).map((r) => `${r.folderTag}=${clinicFolderOf(r)}`).sort().join(',');
  for (let i = 0; i < labels.length; i++) {
    for (let j = i + 1; j < labels.length; j++) {
      if (signature(labels[i]!) === signature(labels[j]!)) {
        warnings.push(`Every ${labels[j]} row copies a ${labels[i]} row; if ${labels[j]} clinics differ, the table is wrong.`);
      }
    }
  }
  return { rows, errors, warnings, rules: hasClients || hasUsers ? mergeRules(ruleLines, warnings) : undefined };
}

/** One rule per clinic folder: every row naming the folder contributes; rows that disagree are reported, not guessed. */
function mergeRules(ruleLines: Map<string, Array<{ line: number; lists: ReceiptRuleLists }>>, warnings: string[]): Map<string, ReceiptRuleLists> {
  const rules = new Map<string, ReceiptRuleLists>();
  for (const [folder, lines] of ruleLines) {
    const merged: ReceiptRuleLists = {
      allowedClients: [...new Set(lines.flatMap((l) => l.lists.allowedClients))],
      allowedUsers: [...new Set(lines.flatMap((l) => l.lists.allowedUsers))],
    };
    rules.set(folder, merged);
    const described = new Set(lines.map((l) => describeRule(l.lists)));
    if (described.size > 1) {
      warnings.push(
        `Rows for ${folder} give different receipt rules (${lines.map((l) => `line ${l.line}: ${describeRule(l.lists)}`).join('; ')}); ` +
          `one folder has one rule, so it gets all of them together: ${describeRule(merged)}.`,
      );
    }
  }
  return rules;
}
