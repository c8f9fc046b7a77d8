import { writeFileSync } from 'node:fs';

export interface PdfSpec {
  /** Text of each page (one line each). */
  pages: string[];
  /** Bytes of an unreferenced binary stream, to make a large but valid PDF quickly. */
  paddingBytes?: number;
}

function escapePdfText(text: string): string {
  return text.replace(/[\\()]/g, (c) => `\\${c}`);
}

/** An object body: text, bytes, or parts written one after the other (so a large stream is never copied). */
export type PdfObjectBody = Buffer | string | Array<Buffer | string>;

/**
 * Assembles a PDF from object bodies, numbered 1, 2, ... in order (object 1 is the catalog), with exact xref
 * offsets; `trailerExtra` goes into the trailer dictionary.
 */
export function assemblePdf(objects: PdfObjectBody[], trailerExtra = ''): Buffer {
  const chunks: Buffer[] = [];
  const offsets: number[] = [];
  let length = 0;
  const push = (b: Buffer | string) => {
    const buf = typeof b === 'string' ? Buffer.from(b, 'latin1') : b;
    chunks.push(buf);
    length += buf.length;
  };
  push('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n');
  objects.forEach((body, i) => {
    offsets[i + 1] = length;
    push(`${i + 1} 0 obj\n`);
    (Array.isArray(body) ? body : [body]).forEach(push);
    push('\nendobj\n');
  });
  const size = objects.length + 1;
  const xrefAt = length;
  push(`xref\n0 ${size}\n0000000000 65535 f \n`);
  for (let n = 1; n < size; n++) push(`${String(offsets[n]).padStart(10, '0')} 00000 n \n`);
  push(`trailer\n<< /Size ${size} /Root 1 0 R ${trailerExtra}>>\nstartxref\n${xrefAt}\n%%EOF\n`);
  return Buffer.concat(chunks, length);
}

/**
 * Builds a small, valid PDF by hand (Helvetica text, exact xref offsets). Faster and more controllable than a PDF
 * library for tests that need hundreds of files or one very large one.
 */
export function buildPdf(spec: PdfSpec): Buffer {
  const pageCount = spec.pages.length;
  const fontObj = 3 + pageCount * 2;
  const kids = spec.pages.map((_, i) => `${3 + i * 2} 0 R`).join(' ');
  const objects: PdfObjectBody[] = ['<< /Type /Catalog /Pages 2 0 R >>', `<< /Type /Pages /Kids [${kids}] /Count ${pageCount} >>`];
  spec.pages.forEach((text, i) => {
    const pageObj = 3 + i * 2;
    const content = `BT /F1 12 Tf 50 700 Td (${escapePdfText(text)}) Tj ET`;
    objects.push(
      `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 ${fontObj} 0 R >> >> /Contents ${pageObj + 1} 0 R >>`,
      `<< /Length ${Buffer.byteLength(content, 'latin1')} >>\nstream\n${content}\nendstream`,
    );
  });
  objects.push('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>');
  if (spec.paddingBytes) {
    objects.push([`<< /Length ${spec.paddingBytes} >>\nstream\n`, Buffer.alloc(spec.paddingBytes, 0x5a), '\nendstream']);
  }
  return assemblePdf(objects);
}

/** A result PDF whose text names `identifier` on its last page (the seed's layout). */
export function resultPdf(identifier: string, extra: Partial<PdfSpec> = {}): Buffer {
  return buildPdf({ pages: ['Botswana Harvard HIV Reference Laboratory', `Viral load result for ${identifier}`], ...extra });
}

export function writePdf(file: string, identifier: string, extra: Partial<PdfSpec> = {}): Buffer {
  const data = resultPdf(identifier, extra);
  writeFileSync(file, data);
  return data;
}
