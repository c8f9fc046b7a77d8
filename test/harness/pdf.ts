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

/**
 * Builds a small, valid PDF by hand (Helvetica text, exact xref offsets). Faster and more controllable than a PDF
 * library for tests that need hundreds of files or one very large one.
 */
export function buildPdf(spec: PdfSpec): Buffer {
  const chunks: Buffer[] = [];
  const offsets: number[] = [];
  let length = 0;
  const push = (b: Buffer | string) => {
    const buf = typeof b === 'string' ? Buffer.from(b, 'latin1') : b;
    chunks.push(buf);
    length += buf.length;
  };
  const object = (num: number, body: Buffer | string) => {
    offsets[num] = length;
    push(`${num} 0 obj\n`);
    push(body);
    push('\nendobj\n');
  };

  const pageCount = spec.pages.length;
  const fontObj = 3 + pageCount * 2;
  const paddingObj = spec.paddingBytes ? fontObj + 1 : undefined;
  const size = (paddingObj ?? fontObj) + 1;

  push('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n');
  object(1, '<< /Type /Catalog /Pages 2 0 R >>');
  const kids = spec.pages.map((_, i) => `${3 + i * 2} 0 R`).join(' ');
  object(2, `<< /Type /Pages /Kids [${kids}] /Count ${pageCount} >>`);
  spec.pages.forEach((text, i) => {
    const pageObj = 3 + i * 2;
    const content = `BT /F1 12 Tf 50 700 Td (${escapePdfText(text)}) Tj ET`;
    object(pageObj, `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 ${fontObj} 0 R >> >> /Contents ${pageObj + 1} 0 R >>`);
    object(pageObj + 1, `<< /Length ${Buffer.byteLength(content, 'latin1')} >>\nstream\n${content}\nendstream`);
  });
  object(fontObj, '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>');
  if (paddingObj && spec.paddingBytes) {
    offsets[paddingObj] = length;
    push(`${paddingObj} 0 obj\n<< /Length ${spec.paddingBytes} >>\nstream\n`);
    push(Buffer.alloc(spec.paddingBytes, 0x5a));
    push('\nendstream\nendobj\n');
  }
  const xrefAt = length;
  push(`xref\n0 ${size}\n0000000000 65535 f \n`);
  for (let n = 1; n < size; n++) push(`${String(offsets[n]).padStart(10, '0')} 00000 n \n`);
  push(`trailer\n<< /Size ${size} /Root 1 0 R >>\nstartxref\n${xrefAt}\n%%EOF\n`);
  return Buffer.concat(chunks, length);
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
