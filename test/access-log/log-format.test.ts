import { compileLogFormat, LogFormatError, unescapeLogItem, type LogRecord } from '../../src/access-log/log-format';

// Lines marked "Apache 2.4" were written by a private Apache 2.4 (Debian build) with the stock `combined` and
// `vhost_combined` formats, driven by curl and raw sockets; the others follow the same shapes.
const T = Date.UTC(2026, 10, 27, 20, 54, 20); // 27/Nov/2026:20:54:20 +0000

const combined = compileLogFormat('combined');

function expectRecord(line: string, expected: Partial<LogRecord>): void {
  const record = combined.parse(line);
  expect(record).not.toBeNull();
  expect(record).toMatchObject(expected);
}

describe('compileLogFormat("combined") on real-world lines', () => {
  test('a plain 200 GET of a PDF (Apache 2.4)', () => {
    expect(
      combined.parse(
        '127.0.0.1 - - [27/Nov/2026:20:54:20 +0000] "GET /results/clinic_a/066-12000001-3.pdf HTTP/1.1" 200 20 "-" "curl/7.88.1"',
      ),
    ).toEqual({
      client: '127.0.0.1',
      user: null,
      time: T,
      method: 'GET',
      path: '/results/clinic_a/066-12000001-3.pdf',
      protocol: 'HTTP/1.1',
      status: 200,
      bytes: 20,
      referer: null,
      userAgent: 'curl/7.88.1',
      vhost: undefined,
      port: undefined,
      durationMicros: undefined,
      extras: undefined,
    });
  });

  test('a 206 range request (Apache 2.4)', () => {
    expectRecord(
      '127.0.0.1 - - [27/Nov/2026:20:54:20 +0000] "GET /results/clinic_a/066-12000001-3.pdf HTTP/1.1" 206 5 "-" "curl/7.88.1"',
      { method: 'GET', status: 206, bytes: 5 },
    );
  });

  test('HEAD and 304 have `-` for bytes (Apache 2.4)', () => {
    expectRecord(
      '127.0.0.1 - - [27/Nov/2026:20:54:28 +0000] "HEAD /results/clinic_a/066-12000001-3.pdf HTTP/1.1" 200 - "-" "curl/7.88.1"',
      { method: 'HEAD', status: 200, bytes: null },
    );
    expectRecord(
      '127.0.0.1 - - [27/Nov/2026:20:54:28 +0000] "GET /results/clinic_a/066-12000001-3.pdf HTTP/1.1" 304 - "-" "curl/7.88.1"',
      { method: 'GET', status: 304, bytes: null },
    );
  });

  test('a 404 (Apache 2.4)', () => {
    expectRecord(
      '127.0.0.1 - - [27/Nov/2026:20:54:21 +0000] "GET /results/clinic_a/missing.pdf HTTP/1.1" 404 236 "-" "curl/7.88.1"',
      { status: 404, bytes: 236, path: '/results/clinic_a/missing.pdf' },
    );
  });

  test('an IPv6 client (Apache 2.4)', () => {
    expectRecord(
      '::1 - - [27/Nov/2026:20:54:21 +0000] "GET /results/clinic_a/066-12000001-3.pdf HTTP/1.1" 200 20 "-" "curl/7.88.1"',
      { client: '::1', status: 200 },
    );
    expectRecord(
      '2001:db8:85a3::8a2e:370:7334 - - [01/Mar/2024:06:00:00 +0200] "GET /r/a.pdf HTTP/2.0" 200 1 "-" "-"',
      { client: '2001:db8:85a3::8a2e:370:7334', protocol: 'HTTP/2.0' },
    );
  });

  test('escaped quotes and backslashes in referer and user agent (Apache 2.4)', () => {
    expectRecord(
      '127.0.0.1 - - [27/Nov/2026:20:54:21 +0000] "GET /results/clinic_a/066-12000001-3.pdf HTTP/1.1" 200 20 ' +
        '"https://x.example/?q=\\"a b\\"" "Mozilla/5.0 \\"quoted\\" \\\\back"',
      { referer: 'https://x.example/?q="a b"', userAgent: 'Mozilla/5.0 "quoted" \\back', status: 200 },
    );
  });

  test('an escaped quote in the request (Apache 2.4), also followed by what looks like a status', () => {
    expectRecord(
      '127.0.0.1 - - [27/Nov/2026:20:54:21 +0000] "GET /results/clinic_a/a\\"b.pdf HTTP/1.1" 404 236 "-" "-"',
      { path: '/results/clinic_a/a"b.pdf', status: 404 },
    );
    expectRecord('10.0.0.1 - - [27/Nov/2026:20:54:21 +0000] "GET /a\\" 200 x.pdf HTTP/1.1" 404 9 "-" "-"', {
      path: '/a" 200 x.pdf',
      status: 404,
    });
  });

  test('percent-encoded spaces and a query string stay raw in the path (Apache 2.4)', () => {
    expectRecord(
      '127.0.0.1 - - [27/Nov/2026:20:54:21 +0000] "GET /results/clinic_a/Report%20Final.PDF?download=1 HTTP/1.1" 200 20 "-" "curl/7.88.1"',
      { path: '/results/clinic_a/Report%20Final.PDF?download=1' },
    );
  });

  test('raw UTF-8 bytes in the request come back as bytes from their \\x escapes (Apache 2.4)', () => {
    expectRecord(
      '127.0.0.1 - - [27/Nov/2026:20:54:21 +0000] "GET /results/clinic_a/caf\\xc3\\xa9.pdf HTTP/1.1" 200 20 "-" "-"',
      { path: '/results/clinic_a/caf\u00c3\u00a9.pdf', userAgent: null },
    );
  });

  test('junk, timeouts, absolute-form and HTTP/0.9 request lines (Apache 2.4)', () => {
    expectRecord('127.0.0.1 - - [27/Nov/2026:20:54:21 +0000] "\\x16\\x03\\x01\\x02" 400 266 "-" "-"', {
      method: '\\x16\\x03\\x01\\x02',
      path: '',
      protocol: '',
      status: 400,
    });
    expectRecord('127.0.0.1 - - [27/Nov/2026:20:54:30 +0000] "-" 408 - "-" "-"', { method: '-', path: '', status: 408 });
    expectRecord(
      '127.0.0.1 - - [27/Nov/2026:20:54:21 +0000] "GET http://localhost/results/clinic_a/066-12000001-3.pdf HTTP/1.1" 200 20 "-" "-"',
      { path: 'http://localhost/results/clinic_a/066-12000001-3.pdf', protocol: 'HTTP/1.1' },
    );
    expectRecord('127.0.0.1 - - [27/Nov/2026:20:54:21 +0000] "GET /results/clinic_a/066-12000001-3.pdf" 200 20 "-" "-"', {
      method: 'GET',
      path: '/results/clinic_a/066-12000001-3.pdf',
      protocol: '',
    });
  });

  test('an ownCloud download with an encoded dir and file name', () => {
    expectRecord(
      '10.1.2.3 - clinic_a [01/Mar/2024:08:15:02 +0200] "GET /index.php/apps/files/ajax/download.php?dir=%2FResults%2FClinic%20A&files=066-12000001-3.pdf HTTP/1.1" 200 48213 "https://cloud.example.org/index.php/apps/files/?dir=/Results" "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"',
      {
        user: 'clinic_a',
        path: '/index.php/apps/files/ajax/download.php?dir=%2FResults%2FClinic%20A&files=066-12000001-3.pdf',
        time: Date.UTC(2024, 2, 1, 6, 15, 2),
      },
    );
  });

  test('odd user agents: empty, only spaces, quotes at the edges, very long', () => {
    const base = '10.0.0.1 - - [01/Mar/2024:08:15:02 +0000] "GET /a.pdf HTTP/1.1" 200 1 "-" ';
    expectRecord(`${base}""`, { userAgent: '' });
    expectRecord(`${base}"   "`, { userAgent: '   ' });
    expectRecord(`${base}"\\"x\\""`, { userAgent: '"x"' });
    expectRecord(`${base}"${'Mozilla/5.0 '.repeat(500)}"`, { status: 200 });
  });

  test('time zones are applied', () => {
    const at = (tz: string): number | null =>
      combined.parse(`1.2.3.4 - - [10/Oct/2000:13:55:36 ${tz}] "GET / HTTP/1.0" 200 2326 "-" "-"`)?.time ?? null;
    expect(at('-0700')).toBe(Date.parse('2000-10-10T20:55:36Z'));
    expect(at('+0000')).toBe(Date.parse('2000-10-10T13:55:36Z'));
    expect(at('+0530')).toBe(Date.parse('2000-10-10T08:25:36Z'));
    // Leap day and year boundaries go through the day arithmetic, not Date.
    expect(combined.parse('1.2.3.4 - - [29/Feb/2024:23:59:59 +0000] "GET / HTTP/1.0" 200 1 "-" "-"')?.time).toBe(
      Date.parse('2024-02-29T23:59:59Z'),
    );
    expect(combined.parse('1.2.3.4 - - [01/Jan/2025:00:00:00 +0100] "GET / HTTP/1.0" 200 1 "-" "-"')?.time).toBe(
      Date.parse('2024-12-31T23:00:00Z'),
    );
  });

  test('CRLF line endings are tolerated', () => {
    expectRecord('1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /a.pdf HTTP/1.0" 200 2326 "-" "x"\r', { userAgent: 'x' });
  });

  test.each([
    ['empty', ''],
    ['prose', 'hello world'],
    ['truncated', '127.0.0.1 - - [27/Nov/2026:20:54:20 +0000] "GET /results/clinic_a/066-12000001-3.pdf HTTP/1.1" 200 20 "-" "curl'],
    ['common line for combined', '127.0.0.1 - - [27/Nov/2026:20:54:20 +0000] "GET /a.pdf HTTP/1.1" 200 20'],
    ['bad month', '1.2.3.4 - - [10/Foo/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2326 "-" "-"'],
    ['bad time', '1.2.3.4 - - [10/Oct/2000:25:55:36 -0700] "GET / HTTP/1.0" 200 2326 "-" "-"'],
    ['short time', '1.2.3.4 - - [10/Oct/2000:13:55 -0700] "GET / HTTP/1.0" 200 2326 "-" "-"'],
    ['status not a number', '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" abc 2326 "-" "-"'],
    ['status not three digits', '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 0200 2326 "-" "-"'],
    ['bytes not a number', '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 12x "-" "-"'],
    ['no client', ' - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1 "-" "-"'],
    ['unterminated request', '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0 200 1 "-" "-"'],
    ['trailing junk', '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1 "-" "-" extra'],
    ['binary', '\u0000\u0001\u0002\u00ff'],
  ])('returns null, without throwing, for a %s line', (_name, line) => {
    expect(combined.parse(line)).toBeNull();
  });
});

describe('other formats', () => {
  test('common (Apache 2.4 shape)', () => {
    expect(
      compileLogFormat('common').parse('127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326'),
    ).toMatchObject({ client: '127.0.0.1', user: 'frank', path: '/apache_pb.gif', status: 200, bytes: 2326, referer: null, userAgent: null });
  });

  test('vhost_combined (Apache 2.4), which logs %O', () => {
    expect(
      compileLogFormat('vhost_combined').parse(
        'localhost:80 127.0.0.1 - - [27/Nov/2026:20:54:20 +0000] "GET /results/clinic_a/066-12000001-3.pdf HTTP/1.1" 206 279 "-" "curl/7.88.1"',
      ),
    ).toMatchObject({ vhost: 'localhost', port: 80, client: '127.0.0.1', status: 206, bytes: 279, userAgent: 'curl/7.88.1' });
  });

  test('a LogFormat copied from an Apache config line, with its \\" escapes', () => {
    const f = compileLogFormat('%h %l %u %t \\"%r\\" %>s %b');
    expect(f.format).toBe('%h %l %u %t \\"%r\\" %>s %b');
    expect(f.parse('1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.0" 200 5')).toMatchObject({ path: '/a', bytes: 5 });
  });

  test('a custom format: %a, generic headers, %m %U%q %H, %B, %D, epoch seconds, %{...}x', () => {
    const f = compileLogFormat('%a %{X-Forwarded-For}i %{sec}t %m %U%q %H %>s %B %D "%{User-Agent}i" %{ssl-protocol}x');
    expect(f.parse('10.0.0.9 203.0.113.5 1709273700 GET /r/a%20b.pdf?x=1 HTTP/1.1 200 0 5120 "curl/8" TLSv1.3')).toEqual({
      client: '10.0.0.9',
      user: null,
      time: 1709273700000,
      method: 'GET',
      path: '/r/a%20b.pdf?x=1',
      protocol: 'HTTP/1.1',
      status: 200,
      bytes: 0,
      referer: null,
      userAgent: 'curl/8',
      vhost: undefined,
      port: undefined,
      durationMicros: 5120,
      extras: { '%{X-Forwarded-For}i': '203.0.113.5', '%{ssl-protocol}x': 'TLSv1.3' },
    });
    // %q is empty without a query.
    expect(f.parse('10.0.0.9 - 1709273700 GET /r/a.pdf HTTP/1.1 200 0 5 "-" -')?.path).toBe('/r/a.pdf');
  });

  test('%T is seconds, %{ms}T is kept as an extra, %s alone is the status, %% is a literal', () => {
    const f = compileLogFormat('%h %T %{ms}T %s 100%%');
    expect(f.parse('h 2 2001 404 100%')).toMatchObject({ client: 'h', durationMicros: 2_000_000, status: 404, extras: { '%{ms}T': '2001' } });
  });

  test('fieldContext gives the literals around a field', () => {
    expect(combined.fieldContext(['status'])).toEqual({ role: 'status', before: '" ', after: ' ' });
    expect(combined.fieldContext(['request', 'method'])).toEqual({ role: 'request', before: ' "', after: '" ' });
    expect(compileLogFormat('%h %t').fieldContext(['status'])).toBeUndefined();
  });

  test('formats that cannot be parsed are refused when compiled', () => {
    expect(() => compileLogFormat('%h%u %t')).toThrow(LogFormatError);
    expect(() => compileLogFormat('nonsense')).toThrow(/neither a known log format name/);
    expect(() => compileLogFormat('%h %{Referer i')).toThrow(LogFormatError);
    expect(() => compileLogFormat('%h %')).toThrow(LogFormatError);
  });
});

describe('locate', () => {
  test('gives the fields a scanner needs without building a record, reusing one object', () => {
    const a = combined.locate('::1 bob - [27/Nov/2026:20:54:20 +0000] "GET /x/a%20b.pdf?q HTTP/1.1" 206 5 "-" "c"');
    expect(a).not.toBeNull();
    expect([a!.methodIs('GET'), a!.methodIs('HEAD'), a!.target(), a!.client(), a!.user(), a!.status, a!.bytes, a!.time]).toEqual([
      true,
      false,
      '/x/a%20b.pdf?q',
      '::1',
      null,
      206,
      5,
      T,
    ]);
    const b = combined.locate('1.2.3.4 - - [27/Nov/2026:20:54:21 +0000] "HEAD / HTTP/1.1" 200 - "-" "c"');
    expect(b).toBe(a);
    expect(b!.bytes).toBeNull();
    expect(b!.time).toBe(T + 1000);
  });
});

describe('unescapeLogItem', () => {
  test('reverses what Apache escapes and leaves the rest', () => {
    expect(unescapeLogItem('plain')).toBe('plain');
    expect(unescapeLogItem('a\\"b\\\\c\\n\\t\\x41\\xzz\\q\\')).toBe('a"b\\c\n\tA\\xzzq\\');
  });
});
