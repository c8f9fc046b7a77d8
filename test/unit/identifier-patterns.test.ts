import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SEED_PATTERNS } from '../../src/config/patterns';
import { IdentifierPatterns } from '../../src/domain/identifier-patterns';
import { parseRemoteFolderCsv } from '../../src/remote-folders/remote-folder-csv';

const patterns = new IdentifierPatterns(SEED_PATTERNS);
const seed = parseRemoteFolderCsv(readFileSync(path.join(__dirname, '..', '..', 'config', 'remote_folders.csv'), 'utf8'));

/** A file name in each style whose hint is `tag`. */
const nameFor: Record<string, (tag: string) => string> = {
  BHS: (tag) => `066-${tag}000001-3.pdf`,
  CDC1: (tag) => `1${tag}-4567.pdf`,
  CDC2: (tag) => `12-${tag}-567-89.pdf`,
};

describe('identifier patterns', () => {
  it('reads the examples from the brief', () => {
    expect(patterns.identify('066-12000001-3.pdf')).toEqual({ ok: true, identification: { label: 'BHS', identifier: '066-12000001-3', hint: '12' } });
    expect(patterns.identify('113-4567.pdf')).toEqual({ ok: true, identification: { label: 'CDC1', identifier: '113-4567', hint: '13' } });
    expect(patterns.identify('12-34-567-89.pdf')).toEqual({ ok: true, identification: { label: 'CDC2', identifier: '12-34-567-89', hint: '34' } });
  });

  it.each(seed.rows.map((r) => [r.label, r.folderTag, r.folder] as const))(
    'routes a %s name with hint %s to %s (every row of the seed table)',
    (label, tag, folder) => {
      const identified = patterns.identify(nameFor[label]!(tag));
      expect(identified).toMatchObject({ ok: true, identification: { label, hint: tag } });
      const hint = identified.ok ? identified.identification.hint : '';
      const matches = seed.rows.filter((r) => r.label === label && r.folderTag === hint);
      expect(matches.map((m) => m.folder)).toEqual([folder]);
    },
  );

  it('keeps leading zeros of a hint', () => {
    expect(patterns.identify('066-05000001-3.pdf')).toMatchObject({ ok: true, identification: { hint: '05' } });
  });

  it('rejects names that follow no style, with a reason that lists the styles', () => {
    for (const name of ['results.pdf', '066-1200001-3.pdf', '413-4567.pdf', '12-34-56-89.pdf', ' 066-12000001-3.pdf']) {
      const result = patterns.identify(name);
      expect(result).toMatchObject({ ok: false, code: 'NAME_NO_PATTERN' });
      expect(!result.ok && result.reason).toContain('BHS');
    }
  });

  it('refuses to guess when two styles claim one name', () => {
    const overlapping = new IdentifierPatterns([...SEED_PATTERNS, { label: 'WIDE', regex: '^066-', hint: { start: 0, end: 2 } }]);
    expect(overlapping.identify('066-12000001-3.pdf')).toMatchObject({ ok: false, code: 'NAME_AMBIGUOUS' });
  });
});

describe('the seed remote-folder table', () => {
  it('loads all 84 rows without errors', () => {
    expect(seed.errors).toEqual([]);
    expect(seed.rows).toHaveLength(84);
  });

  it('reports every clinic spelled two ways and the copied CDC2 rows, and nothing else', () => {
    const spelled = seed.warnings.filter((w) => w.includes('spelled two ways'));
    expect(spelled).toHaveLength(4);
    for (const pair of [['lentswelatau', 'lentsweletau'], ['molapowabajong', 'molapowabojang'], ['sefhophe', 'sefophe'], ['mandunyane', 'mmandunyane']]) {
      expect(spelled.some((w) => w.includes(`"${pair[0]}"`) && w.includes(`"${pair[1]}"`))).toBe(true);
    }
    expect(seed.warnings.filter((w) => w.includes('copies'))).toEqual(['Every CDC2 row copies a BHS row; if CDC2 clinics differ, the table is wrong.']);
  });

  it('refuses a table that maps one tag to two folders', () => {
    const report = parseRemoteFolderCsv('base_path,folder,folder_tag,label\nviral_load,a,12,BHS\nviral_load,b,12,BHS\n');
    expect(report.errors[0]).toContain('already mapped');
  });

  it('refuses folder names that could escape the clinic folder', () => {
    const report = parseRemoteFolderCsv('base_path,folder,folder_tag,label\n../etc,a,12,BHS\nviral_load,../b,13,BHS\n');
    expect(report.errors).toHaveLength(2);
  });
});
