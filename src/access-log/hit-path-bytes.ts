/**
 * The hit rule of hit-rule.ts applied to the request targets a log is full of, read as bytes without making
 * strings: a plain path, one with percent-escapes (`Clinic%20A`), one with a query (`?download=1`), and ownCloud's
 * `download.php?dir=...&files=...`. The decoded path is written into a reused buffer. What counts (the request
 * test, the path matcher, the `*.ext` suffix) comes from the compiled rule itself; only the decoding of the target
 * is done again here, over bytes, because that is where the time goes.
 *
 * Anything unusual is answered {@link UNSURE}, and the caller asks the string rule instead: a log escape (`\x..`,
 * `\"`), bytes outside printable ASCII before or after decoding (UTF-8 names, control chars), a `"` (needs a JSON
 * escape), dot segments or doubled slashes (path normalisation), an absolute-form target, a JSON `files` list. So
 * this module only has to agree with hit-rule.ts where it answers; test/access-log/hit-path-bytes.test.ts checks
 * that it does, on the same edge cases as the scanner's tests.
 *
 * It reads the log's bytes (the scanner's chunk), not the latin1 text the scanner searches: the same offsets, but
 * a loop over a byte array measured twice as fast as one over a string's chars.
 */
import { isHitRequest, type HitRule } from './hit-rule';
import type { LineFields } from './log-format';

/** The line is not a hit. */
export const NOT_A_HIT = -1;
/** This module cannot tell cheaply; use the string rule (hitOfLine). */
export const UNSURE = -2;

const SLASH = 47;
const DOT = 46;
const PERCENT = 37;
const QUESTION = 63;
const AMPERSAND = 38;
const EQUALS = 61;
const PLUS = 43;
const QUOTE = 34;
const BACKSLASH = 92;
const OPEN_BRACKET = 91;

const DOWNLOAD_PHP = '/download.php';

export class HitPathDecoder {
  /** The decoded path of the last hit, in [0, length): printable ASCII without `"` and `\`. */
  path: Buffer = Buffer.alloc(256);
  private readonly dir = new Decoded();
  private readonly files = new Decoded();
  /** A decoded query key, short enough to be `dir` or `files`. */
  private readonly key = Buffer.alloc(8);
  private readonly suffix: string | undefined;
  private readonly matches: (path: string) => boolean;

  constructor(rule: HitRule) {
    this.matches = rule.matchesPath;
    this.suffix = rule.plainSuffix;
  }

  /**
   * The verdict for a located line: the decoded path's length when the line is a hit, {@link NOT_A_HIT}, or
   * {@link UNSURE}. The request half is the rule's own (isHitRequest). `bytes` holds the line's text as bytes, text
   * offset i at `base + i`: loops over bytes measured twice as fast as over chars.
   */
  verdictOfLine(fields: LineFields, bytes: Uint8Array, base: number): number {
    if (!isHitRequest(fields)) return NOT_A_HIT;
    const start = fields.targetStart();
    if (start < 0) return UNSURE; // `%U%q` and friends: the string rule puts the target together
    return this.decode(bytes, base + start, base + fields.targetEnd());
  }

  /** The verdict for the raw target at [start, end) of `src` (hitPathOf's, where it is not {@link UNSURE}). */
  decode(src: Uint8Array, start: number, end: number): number {
    if (start >= end || src[start]! !== SLASH) return UNSURE;
    if (this.path.length < end - start) this.path = Buffer.alloc(2 * (end - start));
    const length = decodePathInto(src, start, end, this.path);
    if (length < 0) return UNSURE;
    if (this.match(this.path, length)) return length;
    if (!endsWith(this.path, length, DOWNLOAD_PHP)) return NOT_A_HIT;
    // decodePathInto stopped at the first `?`: the query, if any, starts there.
    const q = indexIn(src, QUESTION, start, end);
    if (q === end) return NOT_A_HIT;
    return this.ownCloud(src, q + 1, end);
  }

  /** `download.php?dir=<d>&files=<f>`: the first `dir` and the first `files`, as ownCloudDownloadPath reads them. */
  private ownCloud(src: Uint8Array, start: number, end: number): number {
    // An escape anywhere may hide a `&` or `=` (`\x26`): only the string rule, which undoes escapes first, can tell.
    if (indexIn(src, BACKSLASH, start, end) < end) return UNSURE;
    const dir = this.dir;
    const files = this.files;
    dir.reset(end - start);
    files.reset(end - start);
    for (let part = start; part <= end; ) {
      const amp = indexIn(src, AMPERSAND, part, end);
      const eq = indexIn(src, EQUALS, part, amp);
      if (eq < amp) {
        const key = keyOf(src, part, eq, this.key);
        if (key === KEY_UNSURE) return UNSURE;
        const target = key === KEY_DIR && dir.length < 0 ? dir : key === KEY_FILES && files.length < 0 ? files : undefined;
        if (target !== undefined) {
          target.length = decodeInto(src, eq + 1, amp, true, target.bytes, 0);
          if (target.length < 0) return UNSURE;
        }
      }
      part = amp + 1;
      if (amp === end) break;
    }
    if (files.length <= 0) return NOT_A_HIT; // no `files`, or an empty one
    if (files.bytes[0] === OPEN_BRACKET) return UNSURE; // a JSON list of names
    if (dir.length < 0) return UNSURE; // `//name`: path normalisation
    const length = dir.length + 1 + files.length;
    if (this.path.length < length) this.path = Buffer.alloc(2 * length);
    // Loops, not Buffer#copy: for a few dozen bytes its argument checks cost more than the copy.
    const path = this.path;
    for (let i = 0; i < dir.length; i++) path[i] = dir.bytes[i]!;
    path[dir.length] = SLASH;
    for (let i = 0; i < files.length; i++) path[dir.length + 1 + i] = files.bytes[i]!;
    if (!isNormal(this.path, 0, length)) return UNSURE;
    return this.match(this.path, length) ? length : NOT_A_HIT;
  }

  private match(path: Buffer, length: number): boolean {
    const suffix = this.suffix;
    if (suffix === undefined) return this.matches(path.toString('latin1', 0, length));
    const start = length - suffix.length;
    if (start < 0) return false;
    for (let k = 0; k < suffix.length; k++) {
      let c = path[start + k]!;
      if (c >= 65 && c <= 90) c |= 32;
      if (c !== suffix.charCodeAt(k)) return false;
    }
    return true;
  }
}

const UNDECODED = -1;

/** A query value decoded into a reused buffer; length UNDECODED until the parameter is seen. */
class Decoded {
  bytes = Buffer.alloc(256);
  length = UNDECODED;

  reset(capacity: number): void {
    if (this.bytes.length < capacity) this.bytes = Buffer.alloc(2 * capacity);
    this.length = UNDECODED;
  }
}

const KEY_OTHER = 0;
const KEY_DIR = 1;
const KEY_FILES = 2;
const KEY_UNSURE = 3;

/**
 * Which of the two parameters a query key names once decoded (`+` as space), without making a string; `keyBuffer`
 * (8 bytes) is scratch space for the decoded key.
 */
function keyOf(src: Uint8Array, start: number, end: number, keyBuffer: Buffer): number {
  // Any decoded key longer than `files` is neither; only its bytes' safety matters, and decodeInto checks that.
  const raw = end - start;
  if (raw > 3 * 5) {
    for (let i = start; i < end; i++) if (!isSafeRaw(src[i]!)) return KEY_UNSURE;
    return KEY_OTHER;
  }
  const n = decodeInto(src, start, end, true, keyBuffer, 0);
  if (n < 0) return KEY_UNSURE;
  if (n === 3 && keyBuffer[0] === 100 && keyBuffer[1] === 105 && keyBuffer[2] === 114) return KEY_DIR; // dir
  if (n === 5 && keyBuffer.toString('latin1', 0, 5) === 'files') return KEY_FILES;
  return KEY_OTHER;
}

/** The first `c` in src[from, end), or `end`: a bounded search, where indexOf would run on into the next lines. */
function indexIn(src: Uint8Array, c: number, from: number, end: number): number {
  for (let i = from; i < end; i++) if (src[i]! === c) return i;
  return end;
}

/** Raw target bytes taken as they are: printable ASCII except `\` (a log escape follows). */
function isSafeRaw(c: number): boolean {
  return c >= 0x20 && c <= 0x7e && c !== BACKSLASH;
}

/** Decoded bytes the fast path can write into JSON as they are. */
function isSafeDecoded(c: number): boolean {
  return c >= 0x20 && c <= 0x7e && c !== QUOTE && c !== BACKSLASH;
}

/**
 * The path part of a target (up to its first `?`) percent-decoded into `out`, as {@link decodeInto} does; also -1
 * when the decoded path has `//` or `/.`, which hit-rule.ts would normalise. One pass, as this runs for every hit.
 */
export function decodePathInto(src: Uint8Array, start: number, end: number, out: Uint8Array): number {
  let n = 0;
  for (let i = start; i < end; i++) {
    let c = src[i]!;
    // One table lookup tells the chars copied as they are from the few that need a look: a dozen comparisons per
    // char measured twice as slow.
    if (PATH_CHAR[c] !== 0) {
      if (c === QUESTION) break;
      if (c === PERCENT) {
        const escaped = escapedByteAt(src, i, end);
        if (escaped >= 0) {
          c = escaped;
          i += 2;
        }
      }
      if (!isSafeDecoded(c)) return -1;
      if ((c === DOT || c === SLASH) && n > 0 && out[n - 1] === SLASH) return -1;
    }
    out[n++] = c;
  }
  return n;
}

/**
 * Non-zero for the chars a path cannot simply copy: `?`, `%`, what {@link isSafeDecoded} refuses, and `.` and `/`
 * (a `//` or `/.` is refused).
 */
const PATH_CHAR = new Uint8Array(256).map((_, c) =>
  c === QUESTION || c === PERCENT || c === DOT || c === SLASH || !isSafeDecoded(c) ? 1 : 0,
);

/**
 * Percent-decodes src[start, end) into out at `at`, `+` as space when asked (query values), as percentDecode in
 * hit-rule.ts does: a `%` without two hex digits stays as written. Returns the decoded length, or -1 (UNSURE)
 * when a raw or decoded byte is not {@link isSafeDecoded}: non-ASCII needs UTF-8 decoding, the rest JSON escapes or
 * log unescaping. `out` must hold end - start bytes.
 */
export function decodeInto(src: Uint8Array, start: number, end: number, plusAsSpace: boolean, out: Uint8Array, at: number): number {
  let n = at;
  for (let i = start; i < end; i++) {
    let c = src[i]!;
    if (c === PERCENT) {
      const escaped = escapedByteAt(src, i, end);
      if (escaped >= 0) {
        i += 2;
        if (!isSafeDecoded(escaped)) return -1;
        out[n++] = escaped;
        continue;
      }
    }
    if (plusAsSpace && c === PLUS) c = 32;
    if (!isSafeDecoded(c)) return -1;
    out[n++] = c;
  }
  return n - at;
}

/** The byte a `%XX` at src[i] stands for, or -1 when no two hex digits follow the `%` before `end`. */
function escapedByteAt(src: Uint8Array, i: number, end: number): number {
  if (i + 2 >= end) return -1;
  const hi = hexValue(src[i + 1]!);
  const lo = hexValue(src[i + 2]!);
  return hi >= 0 && lo >= 0 ? (hi << 4) | lo : -1;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 32;
  return l >= 97 && l <= 102 ? l - 87 : -1;
}

/** No `//` and no `/.`: hit-rule.ts would normalise such a path, which is left to it. */
function isNormal(path: Uint8Array, start: number, end: number): boolean {
  for (let i = start + 1; i < end; i++) {
    if (path[i - 1] === SLASH && (path[i] === SLASH || path[i] === DOT)) return false;
  }
  return true;
}

function endsWith(bytes: Uint8Array, length: number, suffix: string): boolean {
  const start = length - suffix.length;
  if (start < 0) return false;
  for (let k = 0; k < suffix.length; k++) if (bytes[start + k] !== suffix.charCodeAt(k)) return false;
  return true;
}
