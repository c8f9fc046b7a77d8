/**
 * File names are limited to NAME_MAX bytes (255 on Linux ext4/xfs and on the usual SFTP servers), counted in UTF-8.
 * A name that fits may stop fitting once we derive another from it (`.<name>.<hash>.part`, `<stem>__<hash>.pdf`,
 * `<name>.reason.json`); these helpers shorten the part that came from the upload, never the part that makes the name
 * unique or tells what it is.
 */
export const NAME_MAX = 255;

export function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** The longest prefix of `text` that is at most `maxBytes` in UTF-8, cut between characters (never inside one). */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (byteLength(text) <= maxBytes) return text;
  let out = '';
  let used = 0;
  for (const ch of text) {
    const size = byteLength(ch);
    if (used + size > maxBytes) break;
    out += ch;
    used += size;
  }
  return out;
}

/** `prefix + middle + suffix`, with `middle` shortened as needed so the whole stays within NAME_MAX bytes. */
export function fitName(prefix: string, middle: string, suffix: string, maxBytes = NAME_MAX): string {
  const room = maxBytes - byteLength(prefix) - byteLength(suffix);
  if (room < 1) throw new Error(`A derived file name cannot fit in ${maxBytes} bytes (suffix ${JSON.stringify(suffix)})`);
  return `${prefix}${truncateUtf8(middle, room)}${suffix}`;
}

/** Splits `name.ext` into stem and extension (the extension keeps its dot; a leading dot is not an extension). */
export function splitExtension(fileName: string): { stem: string; ext: string } {
  const dot = fileName.lastIndexOf('.');
  // An "extension" longer than a few characters is part of the name (e.g. `report.2026 final`), not a type.
  if (dot <= 0 || fileName.length - dot > 10) return { stem: fileName, ext: '' };
  return { stem: fileName.slice(0, dot), ext: fileName.slice(dot) };
}
