import { PDFParse } from 'pdf-parse';

export type PdfTextResult =
  | { ok: true; text: string; pages: number }
  | { ok: false; code: 'PDF_ENCRYPTED' | 'PDF_UNREADABLE'; detail: string };

/** Extracts the text of every page. pdf-parse wraps pdf.js; its errors are classified, never thrown. */
export async function extractPdfText(data: Uint8Array): Promise<PdfTextResult> {
  // pdf.js takes ownership of the buffer it is given: pass a copy so the caller's bytes stay intact.
  const parser = new PDFParse({ data: new Uint8Array(data) });
  try {
    const result = await parser.getText();
    return { ok: true, text: result.text, pages: result.total };
  } catch (err) {
    const e = err as Error;
    if (e.name === 'PasswordException' || /password/i.test(e.message)) {
      return { ok: false, code: 'PDF_ENCRYPTED', detail: e.message };
    }
    return { ok: false, code: 'PDF_UNREADABLE', detail: e.message };
  } finally {
    await parser.destroy().catch(() => undefined);
  }
}
