/**
 * The hit rule: which access-log records show that a file matching the pattern was fetched, and which file. This is
 * the one definition of a hit; hit-path-bytes.ts is a faster way to apply it to the common request targets, built
 * from the same compiled rule and handing back to it whatever it cannot decide cheaply.
 *
 * A hit is a `GET` answered 200 or 206 whose decoded path (query removed) ends in the configured file glob, or an
 * ownCloud-style `.../download.php?dir=<d>&files=<f>` whose `files` names such a file. HEAD, 304 (the client already
 * had it, or a validator check), 4xx and 5xx prove nothing.
 */
import { posix } from 'node:path';
import type { LineFields, LogRecord } from './log-format';

export const DEFAULT_HIT_PATTERN = '*.pdf';

/** HEAD sends no body, so only GET shows the file left the server. */
const HIT_METHOD = 'GET';

/** 200 is the whole file, 206 a range of it (PDF viewers fetch in ranges); 304 means nothing was sent. */
function isHitStatus(status: number): boolean {
  return status === 200 || status === 206;
}

/** The request half of the rule for a located line: a GET answered 200 or 206, whatever it fetched. */
export function isHitRequest(fields: Pick<LineFields, 'status' | 'methodIs'>): boolean {
  return isHitStatus(fields.status) && fields.methodIs(HIT_METHOD);
}

/** One hit: an access-log line that shows a file matching the pattern was fetched. */
export interface LogHit {
  /** Decoded, normalised remote path, e.g. `/viral_load/digawana/066-12000001-3.pdf`. */
  path: string;
  /** The request target exactly as logged (still encoded, query included): evidence, as the clinic's browser asked. */
  target: string;
  /** Epoch ms of the request; null only for a LogFormat without a time field. */
  time: number | null;
  client: string;
  user: string | null;
  status: number;
  bytes: number | null;
  vhost: string | undefined;
}

export interface HitRule {
  readonly pattern: string;
  /** Whether a decoded path names a file the pattern accepts (the file half of the rule). */
  readonly matchesPath: (path: string) => boolean;
  /**
   * For a `*.ext`-shaped pattern, the lower-cased suffix that {@link matchesPath} compares ASCII case-insensitively
   * (so a byte-level caller can compare bytes); undefined for other patterns.
   */
  readonly plainSuffix: string | undefined;
  /** The decoded remote path when the record is a hit, else null. */
  match(record: Pick<LogRecord, 'method' | 'status' | 'path'>): string | null;
  /** The path half of {@link match}: the decoded remote path when a request target names a matching file. */
  matchTarget(rawTarget: string): string | null;
  /**
   * Lower-case ASCII text that the raw log line of every hit contains, compared case-insensitively, unless the line
   * contains `%` or `\` (percent-encoding or a log escape can spell any character). Undefined when the glob has no
   * usable literal. The scanner's pre-filter relies on this being true; see {@link requiredLiteralOf}.
   */
  readonly requiredLiteral: string | undefined;
}

export function compileHitRule(pattern: string = DEFAULT_HIT_PATTERN): HitRule {
  const matchesPath = globMatcher(pattern);
  const matchTarget = (rawTarget: string): string | null => hitPathOf(rawTarget, matchesPath);
  const match = (record: Pick<LogRecord, 'method' | 'status' | 'path'>): string | null => {
    if (record.method !== HIT_METHOD || !isHitStatus(record.status)) return null;
    return matchTarget(record.path);
  };
  return { pattern, matchesPath, plainSuffix: plainSuffixOf(pattern), match, matchTarget, requiredLiteral: requiredLiteralOf(pattern) };
}

/** The hit for a record, or null when the record is not a receipt. */
export function hitOfRecord(record: LogRecord, rule: HitRule): LogHit | null {
  const path = rule.match(record);
  if (path === null) return null;
  return {
    path,
    target: record.path,
    time: record.time,
    client: record.client,
    user: record.user,
    status: record.status,
    bytes: record.bytes,
    vhost: record.vhost,
  };
}

/** Targets that percent-decoding, query removal or dot-segment/slash normalisation could change. */
const NOT_PLAIN = /[%?\u0080-\uffff]|\/\.|\/\//;

/** As {@link hitOfRecord}, from a located line: only the fields a hit needs are cut out of the line. */
export function hitOfLine(fields: LineFields, rule: HitRule): LogHit | null {
  if (!isHitRequest(fields)) return null;
  const target = fields.target();
  const path = rule.matchTarget(target);
  if (path === null) return null;
  return {
    path,
    target,
    time: fields.time,
    client: fields.client(),
    user: fields.user(),
    status: fields.status,
    bytes: fields.bytes,
    vhost: fields.vhost(),
  };
}

/**
 * The decoded path a raw request target stands for when it names a file accepted by `matches`, else null. Handles
 * plain paths (query removed, percent-decoded, dot segments and doubled slashes resolved as Apache does before
 * serving) and ownCloud `download.php?dir=&files=` requests.
 */
export function hitPathOf(rawTarget: string, matches: (path: string) => boolean): string | null {
  if (rawTarget.charCodeAt(0) === 47 && !NOT_PLAIN.test(rawTarget)) {
    // The common case: nothing to decode, so no copies.
    return matches(rawTarget) ? rawTarget : null;
  }
  let target = rawTarget;
  // Absolute-form targets (`GET http://host/x.pdf`) are legal and Apache serves them like the path alone.
  if (target.charCodeAt(0) !== 47 /* '/' */) {
    const m = /^https?:\/\/[^/?]*/i.exec(target);
    if (m === null) return null;
    target = target.slice(m[0].length) || '/';
  }
  const q = target.indexOf('?');
  const rawPath = q < 0 ? target : target.slice(0, q);
  const path = normalizePath(percentDecode(rawPath, false));
  if (matches(path)) return path;
  if (q < 0 || !path.endsWith('/download.php')) return null;
  return ownCloudDownloadPath(target.slice(q + 1), matches);
}

function ownCloudDownloadPath(query: string, matches: (path: string) => boolean): string | null {
  let dir: string | undefined;
  let files: string | undefined;
  for (const part of query.split('&')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = percentDecode(part.slice(0, eq), true);
    if (key === 'dir' && dir === undefined) dir = percentDecode(part.slice(eq + 1), true);
    else if (key === 'files' && files === undefined) files = percentDecode(part.slice(eq + 1), true);
  }
  if (files === undefined || files === '') return null;
  if (files.startsWith('[')) {
    // ownCloud sends several files as a JSON array and answers with one zip: only a one-element array is the file
    // itself, and a zip of many does not say which one the clinic kept.
    let parsed: unknown;
    try {
      parsed = JSON.parse(files);
    } catch {
      parsed = undefined;
    }
    if (Array.isArray(parsed)) {
      if (parsed.length !== 1 || typeof parsed[0] !== 'string') return null;
      files = parsed[0];
    }
  }
  const path = normalizePath(`${dir ?? '/'}/${files}`);
  return matches(path) ? path : null;
}

const NON_ASCII = /[^\x00-\x7f]/;

/** Resolves `.`/`..` segments and doubled slashes like Apache before it maps a URL to a file. */
function normalizePath(path: string): string {
  return path.includes('//') || path.includes('/.') ? posix.normalize(path) : path;
}

/**
 * Percent-decodes as bytes and reads the bytes as UTF-8, like Apache and PHP do; never throws (malformed escapes
 * stay as written, invalid UTF-8 becomes U+FFFD). Chars below 256 are taken as bytes because log lines are byte
 * strings (latin1), so `\xc3\xa9` unescaped from the log becomes `é` here too.
 */
export function percentDecode(s: string, plusAsSpace: boolean): string {
  const nonAscii = NON_ASCII.test(s);
  if (!nonAscii && s.indexOf('%') < 0 && (!plusAsSpace || s.indexOf('+') < 0)) return s;
  if (!nonAscii) {
    // The native decoder agrees with the byte-wise one below whenever it accepts the input.
    try {
      return decodeURIComponent(plusAsSpace ? s.replace(/\+/g, ' ') : s);
    } catch {
      // malformed escape or invalid UTF-8: decode byte-wise, keeping what cannot be decoded
    }
  }
  const out = Buffer.allocUnsafe(s.length * 3);
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 37 && i + 2 < s.length && isHex(s.charCodeAt(i + 1)) && isHex(s.charCodeAt(i + 2))) {
      out[n++] = (hexValue(s.charCodeAt(i + 1)) << 4) | hexValue(s.charCodeAt(i + 2));
      i += 2;
    } else if (plusAsSpace && c === 43) {
      out[n++] = 32;
    } else if (c < 256) {
      out[n++] = c;
    } else {
      // A caller handed us real Unicode text: keep the character (a surrogate pair as one code point).
      const cp = s.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      n += out.write(ch, n, 'utf8');
      i += ch.length - 1;
    }
  }
  return out.toString('utf8', 0, n);
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

function hexValue(c: number): number {
  return c <= 57 ? c - 48 : (c | 32) - 87;
}

/**
 * {@link globToRegExp} as a predicate, with a shortcut for the usual `*.ext` shape: an ASCII case-insensitive
 * suffix compare instead of a regex run per line.
 */
export function globMatcher(glob: string): (path: string) => boolean {
  const re = globToRegExp(glob);
  const suffix = plainSuffixOf(glob);
  if (suffix !== undefined) return (path) => endsWithAsciiCaseInsensitive(path, suffix);
  return (path) => re.test(path);
}

/** The lower-cased suffix of a `*.ext`-shaped glob (printable ASCII, no glob syntax, no `/`); else undefined. */
export function plainSuffixOf(glob: string): string | undefined {
  const suffix = glob.slice(1).toLowerCase();
  if (glob.startsWith('*') && suffix !== '' && /^[\x21-\x7e]+$/.test(suffix) && !/[*?[\]{}\\/,]/.test(suffix)) return suffix;
  return undefined;
}

function endsWithAsciiCaseInsensitive(s: string, lowerSuffix: string): boolean {
  const start = s.length - lowerSuffix.length;
  if (start < 0) return false;
  for (let k = 0; k < lowerSuffix.length; k++) {
    let c = s.charCodeAt(start + k);
    if (c >= 65 && c <= 90) c |= 32;
    if (c !== lowerSuffix.charCodeAt(k)) return false;
  }
  return true;
}

/**
 * A shell-style glob matched case-insensitively against the end of a path: `*` and `?` stay within one path
 * segment, `**` crosses segments, `[...]`/`[!...]` are classes, `{a,b}` alternatives, `\` escapes. A glob without
 * `/` therefore matches the file name.
 */
export function globToRegExp(glob: string): RegExp {
  if (glob === '') throw new Error('The file pattern must not be empty');
  let re = '';
  let braceDepth = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    switch (c) {
      case '*':
        if (glob[i + 1] === '*') {
          re += '.*';
          i++;
        } else {
          re += '[^/]*';
        }
        break;
      case '?':
        re += '[^/]';
        break;
      case '[': {
        const close = glob.indexOf(']', i + 2);
        if (close < 0) {
          re += '\\[';
          break;
        }
        let body = glob.slice(i + 1, close);
        const negate = body.startsWith('!') || body.startsWith('^');
        if (negate) body = body.slice(1);
        re += `[${negate ? '^/' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
        i = close;
        break;
      }
      case '{':
        braceDepth++;
        re += '(?:';
        break;
      case '}':
        if (braceDepth > 0) {
          braceDepth--;
          re += ')';
        } else {
          re += '\\}';
        }
        break;
      case ',':
        re += braceDepth > 0 ? '|' : ',';
        break;
      case '\\':
        if (i + 1 < glob.length) {
          i++;
          re += escapeRegExp(glob[i]!);
        } else {
          re += '\\\\';
        }
        break;
      default:
        re += escapeRegExp(c);
    }
  }
  if (braceDepth > 0) throw new Error(`Unbalanced { in file pattern ${glob}`);
  // No `u` flag on purpose: without it `i` folds ASCII letters only with ASCII letters, which is what the
  // pre-filter's literal search assumes.
  return new RegExp(`(?:^|/)${re}$`, 'i');
}

function escapeRegExp(c: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(c) ? `\\${c}` : c;
}

/**
 * The longest run of plain glob characters that every matching decoded path contains, restricted to characters that
 * reach the raw log line unchanged: printable ASCII except space (`+` in a query), `+`, `%`, `"` and `\` (written
 * escaped by Apache) and `/` (path normalisation can create or remove slashes). Lower-cased because the rule is
 * case-insensitive.
 */
export function requiredLiteralOf(glob: string): string | undefined {
  let best = '';
  let run = '';
  let inBraces = 0;
  const endRun = (): void => {
    if (run.length > best.length || (run.length === best.length && run !== '')) best = run;
    run = '';
  };
  for (let i = 0; i < glob.length; i++) {
    let c = glob[i]!;
    if (c === '{') inBraces++;
    if (inBraces > 0 || c === '*' || c === '?' || c === '[' || c === '{' || c === '}') {
      if (c === '}') inBraces = Math.max(0, inBraces - 1);
      if (c === '[') {
        const close = glob.indexOf(']', i + 2);
        if (close >= 0) i = close;
      }
      endRun();
      continue;
    }
    if (c === '\\' && i + 1 < glob.length) c = glob[++i]!;
    const code = c.charCodeAt(0);
    const usable = code > 32 && code < 127 && c !== '+' && c !== '%' && c !== '"' && c !== '\\' && c !== '/';
    if (usable) run += c.toLowerCase();
    else endRun();
  }
  endRun();
  return best === '' ? undefined : best;
}
