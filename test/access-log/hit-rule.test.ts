import { compileLogFormat } from '../../src/access-log/log-format';
import {
  compileHitRule,
  globMatcher,
  globToRegExp,
  percentDecode,
  hitOfRecord,
  hitOfLine,
  requiredLiteralOf,
} from '../../src/access-log/hit-rule';

const pdf = compileHitRule();
const request = (method: string, status: number, path: string): { method: string; status: number; path: string } => ({
  method,
  status,
  path,
});

describe('the receipt rule (default *.pdf)', () => {
  test('a GET answered 200 or 206 of a PDF is a hit, giving the decoded path', () => {
    expect(pdf.match(request('GET', 200, '/results/clinic_a/066-12000001-3.pdf'))).toBe('/results/clinic_a/066-12000001-3.pdf');
    expect(pdf.match(request('GET', 206, '/results/clinic_a/066-12000001-3.pdf'))).toBe('/results/clinic_a/066-12000001-3.pdf');
  });

  test.each([
    ['HEAD', 200],
    ['GET', 304],
    ['GET', 404],
    ['GET', 403],
    ['GET', 500],
    ['GET', 301],
    ['POST', 200],
    ['get', 200],
  ])('%s answered %d is not a hit', (method, status) => {
    expect(pdf.match(request(method, status, '/results/a.pdf'))).toBeNull();
  });

  test('only files matching the glob count, case-insensitively', () => {
    expect(pdf.match(request('GET', 200, '/results/a.PDF'))).toBe('/results/a.PDF');
    expect(pdf.match(request('GET', 200, '/results/a.Pdf'))).toBe('/results/a.Pdf');
    expect(pdf.match(request('GET', 200, '/results/a.pdf.html'))).toBeNull();
    expect(pdf.match(request('GET', 200, '/results/'))).toBeNull();
    expect(pdf.match(request('GET', 200, '/favicon.ico'))).toBeNull();
    expect(pdf.match(request('GET', 200, '/results/a.pdf/'))).toBeNull();
  });

  test('the query is removed and the path percent-decoded (UTF-8), spaces included', () => {
    expect(pdf.match(request('GET', 200, '/results/clinic_a/Report%20Final.PDF?download=1'))).toBe('/results/clinic_a/Report Final.PDF');
    expect(pdf.match(request('GET', 200, '/results/caf%C3%A9.pdf'))).toBe('/results/café.pdf');
    expect(pdf.match(request('GET', 200, '/results/a+b.pdf'))).toBe('/results/a+b.pdf');
    expect(pdf.match(request('GET', 200, '/results/a%2Epdf'))).toBe('/results/a.pdf');
    expect(pdf.match(request('GET', 200, '/results/a.pdf%3Fx'))).toBeNull(); // an encoded `?` is part of the name
    expect(pdf.match(request('GET', 200, '/results/a.pdf?x=%zz'))).toBe('/results/a.pdf');
  });

  test('raw UTF-8 bytes unescaped from the log decode to the same name', () => {
    expect(pdf.match(request('GET', 200, '/results/caf\u00c3\u00a9.pdf'))).toBe('/results/café.pdf');
  });

  test('dot segments and doubled slashes are resolved as Apache does', () => {
    expect(pdf.match(request('GET', 200, '/results/./clinic_a//066-12000001-3.pdf'))).toBe('/results/clinic_a/066-12000001-3.pdf');
    expect(pdf.match(request('GET', 200, '/results/x/../clinic_a/a.pdf'))).toBe('/results/clinic_a/a.pdf');
  });

  test('absolute-form request targets count like their path', () => {
    expect(pdf.match(request('GET', 200, 'http://localhost/results/a.pdf'))).toBe('/results/a.pdf');
    expect(pdf.match(request('GET', 200, 'HTTPS://files.example.org:8443/r/a.pdf?x'))).toBe('/r/a.pdf');
    expect(pdf.match(request('GET', 200, ''))).toBeNull();
    expect(pdf.match(request('GET', 200, '*'))).toBeNull();
  });

  describe('ownCloud download.php', () => {
    const dl = '/index.php/apps/files/ajax/download.php';

    test('files names the file, dir the folder, both URL-encoded', () => {
      expect(pdf.match(request('GET', 200, `${dl}?dir=%2FResults%2FClinic%20A&files=066-12000001-3.pdf`))).toBe(
        '/Results/Clinic A/066-12000001-3.pdf',
      );
      expect(pdf.match(request('GET', 200, `/owncloud${dl}?files=R%C3%A9sultat+final.PDF&dir=/Results/Clinic+A`))).toBe(
        '/Results/Clinic A/Résultat final.PDF',
      );
      expect(pdf.match(request('GET', 206, `${dl}?dir=/&files=a.pdf`))).toBe('/a.pdf');
      expect(pdf.match(request('GET', 200, `${dl}?files=a.pdf`))).toBe('/a.pdf');
    });

    test('a one-element JSON array names the file; several files are a zip and do not count', () => {
      expect(pdf.match(request('GET', 200, `${dl}?dir=%2FR&files=%5B%22a.pdf%22%5D`))).toBe('/R/a.pdf');
      expect(pdf.match(request('GET', 200, `${dl}?dir=%2FR&files=%5B%22a.pdf%22%2C%22b.pdf%22%5D`))).toBeNull();
    });

    test('other files, HEAD, 304 and missing parameters do not count', () => {
      expect(pdf.match(request('GET', 200, `${dl}?dir=%2FR&files=notes.txt`))).toBeNull();
      expect(pdf.match(request('GET', 200, `${dl}?dir=%2FR`))).toBeNull();
      expect(pdf.match(request('GET', 200, `${dl}?dir=%2FR&files=`))).toBeNull();
      expect(pdf.match(request('HEAD', 200, `${dl}?dir=%2FR&files=a.pdf`))).toBeNull();
      expect(pdf.match(request('GET', 304, `${dl}?dir=%2FR&files=a.pdf`))).toBeNull();
      expect(pdf.match(request('GET', 200, `/download.php.bak?files=a.pdf`))).toBeNull();
    });
  });

  test('hitOfRecord and hitOfLine agree on a parsed line', () => {
    const combined = compileLogFormat('combined');
    const line =
      '2001:db8::7 - clinic_a [01/Mar/2024:08:15:02 +0200] "GET /results/Clinic%20A/a.pdf?v=2 HTTP/1.1" 206 512 "-" "Mozilla/5.0"';
    const expected = {
      path: '/results/Clinic A/a.pdf',
      target: '/results/Clinic%20A/a.pdf?v=2',
      time: Date.UTC(2024, 2, 1, 6, 15, 2),
      client: '2001:db8::7',
      user: 'clinic_a',
      status: 206,
      bytes: 512,
      vhost: undefined,
    };
    expect(hitOfRecord(combined.parse(line)!, pdf)).toEqual(expected);
    expect(hitOfLine(combined.locate(line)!, pdf)).toEqual(expected);
  });
});

describe('other patterns', () => {
  test('a glob with a folder matches the end of the path', () => {
    const rule = compileHitRule('viral_load/*/*.pdf');
    expect(rule.match(request('GET', 200, '/results/viral_load/digawana/a.pdf'))).toBe('/results/viral_load/digawana/a.pdf');
    expect(rule.match(request('GET', 200, '/results/eid/digawana/a.pdf'))).toBeNull();
    expect(rule.match(request('GET', 200, '/results/viral_load/a.pdf'))).toBeNull();
  });

  test('?, [...], {a,b} and ** work like in a shell', () => {
    const m = (glob: string, path: string): boolean => globMatcher(glob)(path);
    expect(m('066-????????-?.pdf', '/r/066-12000001-3.pdf')).toBe(true);
    expect(m('066-????????-?.pdf', '/r/066-1200001-3.pdf')).toBe(false);
    expect(m('*.[pP][dD][fF]', '/r/a.pdf')).toBe(true);
    expect(m('*.[!p]df', '/r/a.pdf')).toBe(false);
    expect(m('*.{pdf,csv}', '/r/a.CSV')).toBe(true);
    expect(m('*.{pdf,csv}', '/r/a.txt')).toBe(false);
    expect(m('results/**/*.pdf', '/results/a/b/c.pdf')).toBe(true);
    expect(m('*.pdf', '/r/x.pdf')).toBe(globToRegExp('*.pdf').test('/r/x.pdf'));
  });

  test('the literal the pre-filter relies on', () => {
    expect(requiredLiteralOf('*.pdf')).toBe('.pdf');
    expect(requiredLiteralOf('*.PDF')).toBe('.pdf');
    expect(requiredLiteralOf('viral_load/*/066-*.pdf')).toBe('viral_load');
    expect(requiredLiteralOf('*.{pdf,csv}')).toBe('.');
    expect(requiredLiteralOf('report final*.pdf')).toBe('report'); // a space may be `+` in a query
    expect(requiredLiteralOf('*')).toBeUndefined();
    expect(requiredLiteralOf('*.p[dD]f')).toBe('.p');
  });
});

describe('percentDecode', () => {
  test('decodes bytes as UTF-8 and never throws', () => {
    expect(percentDecode('a%20b', false)).toBe('a b');
    expect(percentDecode('a+b%2B', true)).toBe('a b+');
    expect(percentDecode('a+b', false)).toBe('a+b');
    expect(percentDecode('100%', false)).toBe('100%');
    expect(percentDecode('%zz%4', false)).toBe('%zz%4');
    expect(percentDecode('%E9t%C3%A9', false)).toBe('\ufffdt\u00e9');
    expect(percentDecode('\u00c3\u00a9%20', false)).toBe('\u00e9 ');
    expect(percentDecode('日本%20', false)).toBe('日本 ');
  });
});
