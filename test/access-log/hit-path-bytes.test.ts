import { decodeInto, decodePathInto, NOT_A_HIT, HitPathDecoder, UNSURE } from '../../src/access-log/hit-path-bytes';
import { compileHitRule, globMatcher, hitPathOf, plainSuffixOf } from '../../src/access-log/hit-rule';
import { seededRandom } from '../harness/seeded-random';

/** The verdict on a target alone, as the scanner asks for it: the target inside a longer line of log bytes. */
function verdict(decoder: HitPathDecoder, target: string): number | string {
  const line = Buffer.from(`10.0.0.1 - - "GET ${target} HTTP/1.1" 200 5\n`, 'latin1');
  const start = line.indexOf('GET ') + 4;
  const n = decoder.decode(line, start, start + Buffer.byteLength(target, 'latin1'));
  return n >= 0 ? decoder.path.toString('latin1', 0, n) : n;
}

describe('percent-decoding of log bytes', () => {
  const decode = (text: string, plusAsSpace = false): number | string => {
    const src = Buffer.from(`xx${text}yy`, 'latin1');
    const out = Buffer.alloc(text.length);
    const n = decodeInto(src, 2, 2 + text.length, plusAsSpace, out, 0);
    return n < 0 ? n : out.toString('latin1', 0, n);
  };

  test('escapes of printable ASCII are decoded, malformed ones stay as written', () => {
    expect(decode('Clinic%20A/a%2Epdf')).toBe('Clinic A/a.pdf');
    expect(decode('%7e%7E')).toBe('~~');
    expect(decode('100%')).toBe('100%');
    expect(decode('%zz%4')).toBe('%zz%4');
    expect(decode('%2')).toBe('%2');
    expect(decode('a+b')).toBe('a+b');
    expect(decode('a+b%2B', true)).toBe('a b+');
  });

  test('anything needing UTF-8 decoding, a JSON escape or a log unescape is left to the string rule', () => {
    expect(decode('caf%C3%A9.pdf')).toBe(-1); // UTF-8 escapes
    expect(decode('caf\xc3\xa9.pdf')).toBe(-1); // raw UTF-8 bytes
    expect(decode('a%22b')).toBe(-1); // "
    expect(decode('a%5Cb')).toBe(-1); // \
    expect(decode('a%09b')).toBe(-1); // tab
    expect(decode('a\\x2epdf')).toBe(-1); // a log escape
  });

  test('the path decoder stops at the query and refuses paths that normalisation would change', () => {
    const src = Buffer.from('/r/a%20b.pdf?download=1', 'latin1');
    const out = Buffer.alloc(64);
    expect(decodePathInto(src, 0, src.length, out)).toBe('/r/a b.pdf'.length);
    expect(out.toString('latin1', 0, 10)).toBe('/r/a b.pdf');
    for (const bad of ['/r//a.pdf', '/r/./a.pdf', '/r/%2E/a.pdf', '/r/%2Fa.pdf', '/r/../a.pdf']) {
      const b = Buffer.from(bad, 'latin1');
      expect(decodePathInto(b, 0, b.length, out)).toBe(-1);
    }
  });
});

describe('HitPathDecoder', () => {
  const pdf = new HitPathDecoder(compileHitRule('*.pdf'));

  test('plain, encoded and query targets', () => {
    expect(verdict(pdf, '/results/clinic_a/066-1-3.pdf')).toBe('/results/clinic_a/066-1-3.pdf');
    expect(verdict(pdf, '/results/Clinic%20A/066-1-3.PDF?download=1')).toBe('/results/Clinic A/066-1-3.PDF');
    expect(verdict(pdf, '/results/a.pdf.html')).toBe(NOT_A_HIT);
    expect(verdict(pdf, '/results/')).toBe(NOT_A_HIT);
    expect(verdict(pdf, '/a.txt?x=a.pdf')).toBe(NOT_A_HIT);
    expect(verdict(pdf, 'http://host/a.pdf')).toBe(UNSURE);
    expect(verdict(pdf, '/r/caf%C3%A9.pdf')).toBe(UNSURE);
  });

  test('ownCloud download.php names the file in its query', () => {
    const dl = '/index.php/apps/files/ajax/download.php';
    expect(verdict(pdf, `${dl}?dir=%2FResults%2FClinic%20A&files=066-1-3.pdf`)).toBe('/Results/Clinic A/066-1-3.pdf');
    expect(verdict(pdf, `${dl}?files=a.pdf&dir=/R&dir=/ignored`)).toBe('/R/a.pdf');
    expect(verdict(pdf, `${dl}?dir=/R+S&files=a+b.pdf`)).toBe('/R S/a b.pdf');
    expect(verdict(pdf, `${dl}?dir=/R&files=notes.txt`)).toBe(NOT_A_HIT);
    expect(verdict(pdf, `${dl}?dir=/R&files=`)).toBe(NOT_A_HIT);
    expect(verdict(pdf, `${dl}?dir=/R`)).toBe(NOT_A_HIT);
    expect(verdict(pdf, `${dl}?dir=/R&files=%5B%22a.pdf%22%5D`)).toBe(UNSURE); // a JSON list
    expect(verdict(pdf, `${dl}?files=a.pdf`)).toBe(UNSURE); // `//a.pdf` is normalised
    expect(verdict(pdf, `${dl}?x=\\x26files=a.pdf`)).toBe(UNSURE); // an escaped `&`
  });

  test('the *.ext shortcut is the one globMatcher takes, and other globs use globMatcher', () => {
    expect(plainSuffixOf('*.pdf')).toBe('.pdf');
    expect(plainSuffixOf('*.PDF')).toBe('.pdf');
    expect(plainSuffixOf('*.{pdf,csv}')).toBeUndefined();
    expect(plainSuffixOf('clinic_a/*.pdf')).toBeUndefined();
    expect(verdict(new HitPathDecoder(compileHitRule('clinic_a/*.pdf')), '/r/clinic_a/a.pdf')).toBe('/r/clinic_a/a.pdf');
    expect(verdict(new HitPathDecoder(compileHitRule('clinic_a/*.pdf')), '/r/clinic_b/a.pdf')).toBe(NOT_A_HIT);
    expect(verdict(new HitPathDecoder(compileHitRule('*.{pdf,csv}')), '/r/a.CSV')).toBe('/r/a.CSV');
  });

  test('agrees with hitPathOf wherever it answers, on random targets', () => {
    const rnd = seededRandom(11);
    const pieces = ['/', 'r', 'a', '.', 'pdf', 'PDF', '%20', '%2e', '%2F', '%', '%4', '%C3%A9', '?', '&', '=', '+', 'dir', 'files',
      'download.php', '\\x2e', '"', ' ', '%5B%22', '%22%5D', 'csv', '..', '\xe9'];
    const patterns = ['*.pdf', '*.csv', 'r/*.pdf', '*.{pdf,csv}', '*'];
    const decoders = patterns.map((p) => [new HitPathDecoder(compileHitRule(p)), globMatcher(p)] as const);
    let answered = 0;
    const disagreements: unknown[] = [];
    for (let i = 0; i < 6000; i++) {
      let target = rnd() < 0.3 ? '/index.php/download.php?' : '/';
      const n = 1 + Math.floor(rnd() * 12);
      for (let k = 0; k < n; k++) target += pieces[Math.floor(rnd() * pieces.length)];
      for (const [decoder, matches] of decoders) {
        const got = verdict(decoder, target);
        if (got === UNSURE) continue;
        answered++;
        const expected = hitPathOf(target, matches);
        if ((got === NOT_A_HIT ? null : got) !== expected) disagreements.push({ target, got, expected });
      }
    }
    expect(disagreements).toEqual([]);
    expect(answered).toBeGreaterThan(6000);
  });
});
