import { deflateRawSync } from 'node:zlib';
import { assemblePdf, buildPdf, resultPdf } from '../harness/pdf';

/**
 * Bytes of hostile or broken inputs for the corpus suite. Each builder is deterministic, so the expected outcome of a
 * case never depends on chance, and small, so the suite stays fast.
 */

/**
 * A PDF protected by the standard security handler (RC4, revision 2) whose owner and user keys match no password,
 * not even the empty one: pdf.js asks for a password, as it does for a real password-protected export.
 */
export function encryptedPdf(identifier: string): Buffer {
  const content = `BT /F1 12 Tf 50 700 Td (Viral load result for ${identifier}) Tj ET`;
  const key32 = (byte: number) => `<${Buffer.alloc(32, byte).toString('hex')}>`;
  return assemblePdf(
    [
      '<< /Type /Catalog /Pages 2 0 R >>',
      '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
      '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>',
      `<< /Length ${content.length} >>\nstream\n${content}\nendstream`,
      '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
      `<< /Filter /Standard /V 1 /R 2 /O ${key32(0x4f)} /U ${key32(0x55)} /P -44 >>`,
    ],
    `/Encrypt 6 0 R /ID [<${'ab'.repeat(16)}> <${'ab'.repeat(16)}>] `,
  );
}

/** A "scanned" result: one page that only paints an image XObject (an 8x8 grey square), no text operators at all. */
export function scannedPdf(): Buffer {
  const pixels = Buffer.alloc(64, 0x80);
  const draw = 'q 500 0 0 700 50 50 cm /Im1 Do Q';
  return assemblePdf([
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /XObject << /Im1 5 0 R >> >> /Contents 4 0 R >>',
    `<< /Length ${draw.length} >>\nstream\n${draw}\nendstream`,
    Buffer.concat([
      Buffer.from(`<< /Type /XObject /Subtype /Image /Width 8 /Height 8 /ColorSpace /DeviceGray /BitsPerComponent 8 /Length ${pixels.length} >>\nstream\n`, 'latin1'),
      pixels,
      Buffer.from('\nendstream', 'latin1'),
    ]),
  ]);
}

/** A 1x1 PNG (signature, IHDR, IDAT, IEND); CRCs are not checked by anything here, so they are zero. */
export function pngBytes(): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    return Buffer.concat([len, Buffer.from(type, 'latin1'), data, Buffer.alloc(4)]);
  };
  const ihdr = Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', Buffer.from([0x78, 0x9c, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01])),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * A ZIP archive holding a real result PDF (the way a "zipped" export looks): the PDF magic appears inside, but not
 * at the start, and the archive ends with the PDF's `%%EOF` followed by the central directory.
 */
export function zipOfPdf(identifier: string): Buffer {
  const name = Buffer.from(`${identifier}.pdf`);
  const data = deflateRawSync(resultPdf(identifier));
  const raw = resultPdf(identifier);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(8, 8);
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(raw.length, 22);
  local.writeUInt16LE(name.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(8, 10);
  central.writeUInt32LE(data.length, 20);
  central.writeUInt32LE(raw.length, 24);
  central.writeUInt16LE(name.length, 28);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(46 + name.length, 12);
  end.writeUInt32LE(30 + name.length + data.length, 16);
  return Buffer.concat([local, name, data, central, name, end]);
}

/** A stored (uncompressed) ZIP of a PDF: the PDF's own bytes, `%PDF-` and `%%EOF` included, sit inside the archive. */
export function storedZipOfPdf(identifier: string): Buffer {
  const name = Buffer.from(`${identifier}.pdf`);
  const raw = resultPdf(identifier);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(10, 4);
  local.writeUInt32LE(raw.length, 18);
  local.writeUInt32LE(raw.length, 22);
  local.writeUInt16LE(name.length, 26);
  return Buffer.concat([local, name, raw]);
}

export function htmlPage(identifier: string): string {
  return `<!doctype html>\n<html><head><title>Result</title></head><body><h1>Viral load result for ${identifier}</h1>\n<p>%PDF-1.4 is mentioned here</p></body></html>\n`;
}

/** The first `fraction` of a valid result PDF, as left by a copy that was cut off. */
export function truncatedPdf(identifier: string, fraction = 0.6): Buffer {
  const full = resultPdf(identifier);
  return full.subarray(0, Math.floor(full.length * fraction));
}

export { buildPdf, resultPdf };
