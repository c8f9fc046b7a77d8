/**
 * One CSV field, for exports a spreadsheet opens. Always quoted; a leading = + - @ (or tab, CR) is prefixed with ' so
 * that the spreadsheet does not run the value as a formula.
 */
export function csvField(value: string | number): string {
  const text = String(value);
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return `"${safe.replace(/"/g, '""')}"`;
}

export function csvLine(values: ReadonlyArray<string | number>): string {
  return values.map(csvField).join(',');
}
