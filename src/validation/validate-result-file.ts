import type { Identification, IdentifierPatterns } from '../domain/identifier-patterns';
import { extractPdfText } from './pdf-text';

/** Machine-readable rejection codes; each comes with a sentence a technician understands. */
export type RejectionCode =
  | 'EMPTY_FILE'
  | 'TOO_LARGE'
  | 'NAME_NO_PATTERN'
  | 'NAME_AMBIGUOUS'
  | 'NOT_A_PDF'
  | 'PDF_INCOMPLETE'
  | 'PDF_ENCRYPTED'
  | 'PDF_UNREADABLE'
  | 'PDF_NO_TEXT'
  | 'IDENTIFIER_NOT_IN_TEXT'
  /** A symlink, FIFO, folder, socket or device in the upload folder: never followed, opened or read. */
  | 'NOT_A_REGULAR_FILE'
  /** A workflow input whose path is not in the upload folder (a forged start): nothing there is read or moved. */
  | 'OUTSIDE_UPLOAD_FOLDER';

export type ValidationResult =
  | { ok: true; identification: Identification; pages: number }
  | { ok: false; code: RejectionCode; reason: string; identification?: Identification };

export interface ValidationInput {
  fileName: string;
  content: Uint8Array;
  maxBytes: number;
}

const PDF_MAGIC = Buffer.from('%PDF-');
const EOF_MARKER = Buffer.from('%%EOF');
/** `%%EOF` sits near the end; writers may append a little junk after it. */
export const TRAILER_WINDOW = 2048;

/** Whether the last bytes of a file (at least the last TRAILER_WINDOW) hold the `%%EOF` a finished PDF ends with. */
export function endsLikePdf(tail: Buffer): boolean {
  return tail.subarray(Math.max(0, tail.length - TRAILER_WINDOW)).indexOf(EOF_MARKER) >= 0;
}

/**
 * Whether the content starts like a PDF: `%PDF-` at the very start, after at most a byte-order mark and whitespace.
 * Readers tolerate junk before the header (up to 1024 bytes), but then a ZIP or other container holding a PDF would
 * pass as one, and the clinic would receive an archive named .pdf; result exports never carry such a preamble.
 */
export function startsLikePdf(buffer: Buffer): boolean {
  let at = buffer.subarray(0, 3).equals(Buffer.from([0xef, 0xbb, 0xbf])) ? 3 : 0;
  while (at < buffer.length && at < 64 && [0x09, 0x0a, 0x0c, 0x0d, 0x20].includes(buffer[at]!)) at++;
  return buffer.subarray(at, at + PDF_MAGIC.length).equals(PDF_MAGIC);
}

/**
 * Text extraction sees different dashes and line breaks than a filename holds; compare on a canonical form so an
 * identifier printed as `066‑12000001‑3` or split over a line break still counts.
 */
export function canonicalForMatching(text: string): string {
  return text
    .normalize('NFKC')
    .replace(/[\u2010-\u2015\u2212\uFE58\uFE63\uFF0D]/g, '-')
    .replace(/\s+/g, '')
    .toUpperCase();
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * The checks that need only the name and size, so an oversized file is refused without reading it.
 */
export function checkNameAndSize(
  fileName: string,
  size: number,
  maxBytes: number,
  patterns: IdentifierPatterns,
): { ok: true; identification: Identification } | Extract<ValidationResult, { ok: false }> {
  if (size === 0) {
    return { ok: false, code: 'EMPTY_FILE', reason: 'The file is empty (0 bytes). Export the result again and re-upload it.' };
  }
  if (size > maxBytes) {
    return { ok: false, code: 'TOO_LARGE', reason: `The file is ${mib(size)}, larger than the ${mib(maxBytes)} limit for one result.` };
  }
  const named = patterns.identify(fileName);
  if (!named.ok) return { ok: false, code: named.code, reason: named.reason };
  return { ok: true, identification: named.identification };
}

/**
 * Decides whether a file may be sent: a real, complete PDF, named in a known style, whose text holds the identifier
 * from its name (all pages). Pure apart from parsing: the caller reads the file.
 */
export async function validateResultFile(input: ValidationInput, patterns: IdentifierPatterns): Promise<ValidationResult> {
  const { fileName, content, maxBytes } = input;
  const named = checkNameAndSize(fileName, content.length, maxBytes, patterns);
  if (!named.ok) return named;
  const identification = named.identification;

  const buffer = Buffer.from(content.buffer, content.byteOffset, content.byteLength);
  if (!startsLikePdf(buffer)) {
    return {
      ok: false,
      code: 'NOT_A_PDF',
      reason: 'The file is named .pdf but is not a PDF document (it does not start like one). Check that the right file was exported.',
      identification,
    };
  }
  // pdf.js happily reads a PDF that lost its last few percent, so completeness is checked on the bytes themselves.
  if (!endsLikePdf(buffer)) {
    return {
      ok: false,
      code: 'PDF_INCOMPLETE',
      reason: 'The PDF is incomplete (its end is missing): it may have been cut off while copying. Upload it again.',
      identification,
    };
  }
  const text = await extractPdfText(content);
  if (!text.ok) {
    return text.code === 'PDF_ENCRYPTED'
      ? { ok: false, code: 'PDF_ENCRYPTED', reason: 'The PDF is password-protected, so its content cannot be checked.', identification }
      : { ok: false, code: 'PDF_UNREADABLE', reason: `The PDF is damaged and cannot be read (${text.detail}).`, identification };
  }
  const canonicalText = canonicalForMatching(text.text);
  if (canonicalText.replace(/--\d+OF\d+--/g, '').length === 0) {
    return {
      ok: false,
      code: 'PDF_NO_TEXT',
      reason: 'The PDF has no text layer (it looks like a scanned image), so it cannot be checked against its name.',
      identification,
    };
  }
  if (!canonicalText.includes(canonicalForMatching(identification.identifier))) {
    return {
      ok: false,
      code: 'IDENTIFIER_NOT_IN_TEXT',
      reason: `The identifier ${identification.identifier} from the file name does not appear anywhere in the PDF. The file may be misnamed or hold another patient's result.`,
      identification,
    };
  }
  return { ok: true, identification, pages: text.pages };
}
