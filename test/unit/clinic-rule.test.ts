import { ClinicRule, parseAllowedClients, parseAllowedUsers, splitList } from '../../src/remote-folders/clinic-rule';
import { parseRemoteFolderCsv } from '../../src/remote-folders/remote-folder-csv';

const rule = (clients: string[], users: string[] = []) => new ClinicRule('viral_load/digawana', { allowedClients: clients, allowedUsers: users });

describe('the per-clinic receipt rule', () => {
  test('with no allowed clients or users, every fetch counts (the rule is off)', () => {
    const none = rule([]);
    expect(none.active).toBe(false);
    expect(none.check('10.9.9.9', null)).toEqual({ counts: true });
    expect(none.check('not-an-address', 'anyone')).toEqual({ counts: true });
  });

  test('IPv4 ranges and single addresses', () => {
    const r = rule(['10.20.0.0/16', '192.0.2.7']);
    expect(r.check('10.20.3.4', null).counts).toBe(true);
    expect(r.check('10.20.255.255', null).counts).toBe(true);
    expect(r.check('192.0.2.7', null).counts).toBe(true);
    expect(r.check('192.0.2.8', null)).toEqual({ counts: false, reason: "client 192.0.2.8 is not one of viral_load/digawana's addresses" });
    expect(r.check('10.21.0.1', null).counts).toBe(false);
  });

  test('an IPv4-mapped IPv6 client matches an IPv4 range, in either spelling', () => {
    const r = rule(['10.20.0.0/16']);
    expect(r.check('::ffff:10.20.0.1', null).counts).toBe(true);
    expect(r.check('::ffff:a14:1', null).counts).toBe(true);
    expect(r.check('::ffff:10.21.0.1', null).counts).toBe(false);
  });

  test('IPv6 ranges', () => {
    const r = rule(['2001:db8:5::/48', '::1']);
    expect(r.check('2001:db8:5:ffff::1', null).counts).toBe(true);
    expect(r.check('2001:DB8:5::abcd', null).counts).toBe(true);
    expect(r.check('2001:db8:6::1', null).counts).toBe(false);
    expect(r.check('::1', null).counts).toBe(true);
    expect(r.check('10.20.0.1', null).counts).toBe(false);
  });

  test('host bits after the prefix are ignored, as in Apache (10.1.2.5/24 is 10.1.2.0/24)', () => {
    const r = rule(['10.1.2.5/24']);
    expect(r.check('10.1.2.200', null).counts).toBe(true);
    expect(r.check('10.1.3.1', null).counts).toBe(false);
  });

  test('allowed users: the %u name, compared exactly; no user does not match', () => {
    const r = rule([], ['clinic-digawana']);
    expect(r.check('10.9.9.9', 'clinic-digawana').counts).toBe(true);
    expect(r.check('10.9.9.9', 'Clinic-Digawana')).toEqual({ counts: false, reason: `user "Clinic-Digawana" is not one of viral_load/digawana's users` });
    expect(r.check('10.9.9.9', null)).toEqual({ counts: false, reason: "no user was signed in (viral_load/digawana's users: clinic-digawana)" });
  });

  test('clients OR users: either one identifies the clinic; the reason names both when neither fits', () => {
    const r = rule(['10.20.0.0/16'], ['clinic-digawana']);
    expect(r.check('10.20.0.1', null).counts).toBe(true);
    expect(r.check('10.9.9.9', 'clinic-digawana').counts).toBe(true);
    expect(r.check('10.9.9.9', 'someone')).toEqual({
      counts: false,
      reason: `client 10.9.9.9 is not one of viral_load/digawana's addresses, and user "someone" is not one of its users`,
    });
  });

  test('a client logged as a host name (HostnameLookups On) cannot be in a range, and says so', () => {
    const r = rule(['10.20.0.0/16']);
    expect(r.check('clinic.example.org', null)).toEqual({
      counts: false,
      reason: `client "clinic.example.org" is not an IP address, so it is not one of viral_load/digawana's addresses`,
    });
  });

  test('a bad entry stored behind the application\'s back matches nothing and never throws', () => {
    const r = rule(['10.0.0.0/99', '10.20.0.0/16']);
    expect(r.check('10.20.0.1', null).counts).toBe(true);
    const verdict = r.check('10.0.0.1', null);
    expect(verdict.counts).toBe(false);
    expect(verdict).toMatchObject({ reason: expect.stringContaining('"10.0.0.0/99" are not addresses and match nothing') });
  });
});

describe('checking what an operator types', () => {
  test('lists are split on spaces, commas and semicolons; duplicates dropped', () => {
    expect(splitList(' 10.0.0.1, 10.0.0.2;10.0.0.3\n10.0.0.4 ')).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4']);
    expect(parseAllowedClients('10.0.0.1 10.0.0.1 ::1')).toEqual({ values: ['10.0.0.1', '::1'], errors: [] });
  });

  test.each([
    ['10.0.0.0/33', 'the number after / must be 0 to 32 for an IPv4 range'],
    ['2001:db8::/129', 'the number after / must be 0 to 128 for an IPv6 range'],
    ['10.0.0.0/', 'the number after / must be 0 to 32'],
    ['10.0.0.0/8/8', 'the number after / must be 0 to 32'],
    ['10.0.0.0/-1', 'the number after / must be 0 to 32'],
    ['10.0.0.256', 'is not an IP address or range'],
    ['010.0.0.1', 'is not an IP address or range'],
    ['clinic.example.org', 'is not an IP address or range'],
    ['10.0.0.0-10.0.0.9', 'is not an IP address or range'],
    ['fe80::1%eth0', 'has a zone'],
  ])('refuses %s with a message', (entry, message) => {
    const { values, errors } = parseAllowedClients(entry);
    expect(values).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(entry);
    expect(errors[0]).toContain(message);
  });

  test('user names: anything Apache logs as %u except "-", quotes, backslashes and control characters', () => {
    expect(parseAllowedUsers('clinic-digawana nurse@digawana.bw')).toEqual({ values: ['clinic-digawana', 'nurse@digawana.bw'], errors: [] });
    expect(parseAllowedUsers('- a"b').errors).toHaveLength(2);
  });
});

describe('the receipt rule columns of the folder CSV', () => {
  test('an old 4-column CSV still loads, and says nothing about rules (stored rules are kept)', () => {
    const report = parseRemoteFolderCsv('base_path,folder,folder_tag,label\nviral_load,digawana,12,BHS\n');
    expect(report.errors).toEqual([]);
    expect(report.rows).toEqual([{ basePath: 'viral_load', folder: 'digawana', folderTag: '12', label: 'BHS' }]);
    expect(report.rules).toBeUndefined();
  });

  test('the optional columns give each clinic folder its rule; an empty cell is no rule', () => {
    const report = parseRemoteFolderCsv(
      'base_path,folder,folder_tag,label,allowed_clients,allowed_users\n' +
        'viral_load,digawana,12,BHS,"10.20.0.0/16 2001:db8:5::/48",clinic-digawana\n' +
        'viral_load,gweta,34,BHS,,\n',
    );
    expect(report.errors).toEqual([]);
    expect(report.warnings).toEqual([]);
    expect(report.rules).toEqual(
      new Map([
        ['viral_load/digawana', { allowedClients: ['10.20.0.0/16', '2001:db8:5::/48'], allowedUsers: ['clinic-digawana'] }],
        ['viral_load/gweta', { allowedClients: [], allowedUsers: [] }],
      ]),
    );
    expect(report.rows[0]).toMatchObject({ allowedClients: ['10.20.0.0/16', '2001:db8:5::/48'], allowedUsers: ['clinic-digawana'] });
  });

  test('only one of the two columns is enough', () => {
    const report = parseRemoteFolderCsv('base_path,folder,folder_tag,label,allowed_users\nviral_load,digawana,12,BHS,u1\n');
    expect(report.rules?.get('viral_load/digawana')).toEqual({ allowedClients: [], allowedUsers: ['u1'] });
  });

  test('a bad range stops the import with the line and the entry', () => {
    const report = parseRemoteFolderCsv('base_path,folder,folder_tag,label,allowed_clients\nviral_load,digawana,12,BHS,10.0.0.0/33\n');
    expect(report.errors).toEqual([
      'Line 2: allowed_clients "10.0.0.0/33": the number after / must be 0 to 32 for an IPv4 range.',
    ]);
  });

  test('rows of one folder that disagree are reported, and the folder gets all their entries together', () => {
    const report = parseRemoteFolderCsv(
      'base_path,folder,folder_tag,label,allowed_clients\n' + 'viral_load,digawana,12,BHS,10.20.0.0/16\n' + 'viral_load,digawana,12,CDC2,\n',
    );
    expect(report.errors).toEqual([]);
    expect(report.rules?.get('viral_load/digawana')).toEqual({ allowedClients: ['10.20.0.0/16'], allowedUsers: [] });
    expect(report.warnings.join(' ')).toContain('Rows for viral_load/digawana give different receipt rules (line 2: clients 10.20.0.0/16; line 3: none');
  });
});
