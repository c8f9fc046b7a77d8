import path from 'node:path';

/**
 * Names that are never results: half-written uploads (ours end in `.part`), editor and office lock files, browser
 * downloads in progress. They are transient; the finished file appears under its real name by a rename.
 */
const TRANSIENT = [/^\./, /^~\$/, /~$/, /\.(part|partial|tmp|temp|crdownload|download|swp|swx)$/i];

export function isTransientName(file: string): boolean {
  const name = path.basename(file);
  return TRANSIENT.some((re) => re.test(name));
}
