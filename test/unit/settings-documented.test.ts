import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SETTINGS_DOC } from '../../src/config/config';

/** The README's configuration table is written by hand: every setting the program reads must be in it, and only those. */
test('every setting is in the README\'s configuration table, and the table names no setting that does not exist', () => {
  const readme = readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
  const names = SETTINGS_DOC.map((s) => s.name);
  expect(names.filter((name) => !readme.includes(`\`${name}\``))).toEqual([]);
  const tableRows = readme.split('\n').filter((line) => /^\| `(GETRESULTS|TEMPORAL|DATABASE)_/.test(line));
  const inTable = tableRows.flatMap((row) => [...row.split('|')[1]!.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!));
  const known = new Set<string>(names);
  expect(inTable.filter((name) => !known.has(name))).toEqual([]);
});
