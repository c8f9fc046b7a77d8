import { IdentifierPatterns } from '../../src/domain/identifier-patterns';
import { SEED_PATTERNS } from '../../src/config/patterns';
import { canonicalForMatching, validateResultFile } from '../../src/validation/validate-result-file';
import { buildPdf, resultPdf } from '../harness/pdf';

const patterns = new IdentifierPatterns(SEED_PATTERNS);
const MAX = 10 * 1024 * 1024;
const check = (fileName: string, content: Uint8Array) => validateResultFile({ fileName, content, maxBytes: MAX }, patterns);

describe('validateResultFile', () => {
  it('accepts a PDF whose text holds the identifier from its name, on any page', async () => {
    const result = await check('066-12000001-3.pdf', buildPdf({ pages: ['066-12000001-3', 'page two'] }));
    expect(result).toMatchObject({ ok: true, identification: { label: 'BHS', identifier: '066-12000001-3', hint: '12' }, pages: 2 });
  });

  it('rejects a PDF whose text lacks the identifier, saying so in plain words', async () => {
    const result = await check('066-12000001-3.pdf', resultPdf('066-12000002-3'));
    expect(result).toMatchObject({ ok: false, code: 'IDENTIFIER_NOT_IN_TEXT' });
    expect(!result.ok && result.reason).toContain('066-12000001-3');
  });

  it('rejects a text file named .pdf', async () => {
    expect(await check('066-12000001-3.pdf', Buffer.from('Viral load result for 066-12000001-3\n'))).toMatchObject({ ok: false, code: 'NOT_A_PDF' });
  });

  it('rejects a name that matches no pattern, before reading the content', async () => {
    expect(await check('results-march.pdf', resultPdf('066-12000001-3'))).toMatchObject({ ok: false, code: 'NAME_NO_PATTERN' });
  });

  it('rejects an empty file and a file over the size limit', async () => {
    expect(await check('066-12000001-3.pdf', new Uint8Array())).toMatchObject({ ok: false, code: 'EMPTY_FILE' });
    const big = await validateResultFile({ fileName: '066-12000001-3.pdf', content: resultPdf('066-12000001-3'), maxBytes: 100 }, patterns);
    expect(big).toMatchObject({ ok: false, code: 'TOO_LARGE' });
  });

  it('rejects a PDF that lost its end, even though pdf.js could still read its text', async () => {
    const whole = resultPdf('066-12000001-3');
    const truncated = whole.subarray(0, Math.floor(whole.length * 0.97));
    expect(await check('066-12000001-3.pdf', truncated)).toMatchObject({ ok: false, code: 'PDF_INCOMPLETE' });
  });

  it('rejects a damaged PDF and one with no text layer', async () => {
    const damaged = Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(500, 0x20), Buffer.from('\n%%EOF\n')]);
    expect(await check('066-12000001-3.pdf', damaged)).toMatchObject({ ok: false, code: 'PDF_UNREADABLE' });
    expect(await check('066-12000001-3.pdf', buildPdf({ pages: [''] }))).toMatchObject({ ok: false, code: 'PDF_NO_TEXT' });
  });

  it('matches identifiers across typographic dashes and line breaks', () => {
    expect(canonicalForMatching('066\u201112000001\u2013\n3')).toBe(canonicalForMatching('066-12000001-3'));
  });
});
