/**
 * How `parse-log` writes its hits: bytes straight into a large buffer that goes to stdout when half full.
 *
 * Most hits arrive as byte spans of the log (see RawHitSink in log-scanner.ts) and are copied, not turned into
 * strings: building one JSON string per hit (a dozen concatenations, then UTF-8 encoding of the joined text)
 * measured about a quarter of the whole run on the benchmark log, where half the lines are hits. The others arrive
 * as {@link LogHit} objects and are written from their strings; both ways write the same bytes for a hit.
 */
import type { LineFields } from './log-format';
import type { LogHit } from './hit-rule';

/** Where the command writes; tests pass their own. */
export interface ParseLogIo {
  /** May return a promise to say "wait before writing more" (a slow pipe); the scan pauses between reads. */
  stdout(chunk: string | Uint8Array): void | Promise<void>;
  stderr(text: string): void;
  /**
   * True when stdout() is done with a chunk once it returns (a regular file, written synchronously), so the
   * output buffer can be reused rather than allocated anew for every chunk.
   */
  readonly synchronous?: boolean;
}

const OUTPUT_SIZE = 256 * 1024;

/** Strings JSON needs escaped, or that are not ASCII and so need UTF-8 encoding rather than a byte copy. */
const NOT_PLAIN_ASCII = /["\\\u0000-\u001f\u0080-\uffff]/;

const bytes = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'latin1'));
const PATH = bytes('{"path":"');
const TIME = bytes(',"time":');
const CLIENT = bytes(',"client":"');
const USER = bytes(',"user":');
const STATUS = bytes(',"status":');
const BYTES = bytes(',"bytes":');
const VHOST = bytes(',"vhost":');
const END = bytes('}\n');
const NULL = bytes('null');
const QUOTE = 34;
const SPACE = 32;
const DASH = 45;
const BACKSLASH = 92;

/** The byte buffer that is handed to stdout when half full. */
export class HitOutput {
  buf = Buffer.allocUnsafe(OUTPUT_SIZE);
  pos = 0;
  private pending: Promise<void> | undefined;

  constructor(private readonly io: ParseLogIo) {}

  text(text: string): void {
    this.reserve(3 * text.length);
    this.pos += this.buf.write(text, this.pos, 'utf8');
    this.flushIfHalfFull();
  }

  flushIfHalfFull(): void {
    if (this.pos >= OUTPUT_SIZE / 2) this.flush();
  }

  flush(): void {
    if (this.pos === 0) return;
    const chunk = this.buf.subarray(0, this.pos);
    this.pos = 0;
    // A pipe (or a worker's message port) may still hold on to the chunk after write() returns: then a fresh
    // buffer. A new 256 KiB buffer per chunk is off-heap memory that V8 collects with full GCs: 6% of a benchmark
    // run went to them.
    if (this.io.synchronous !== true) this.buf = Buffer.allocUnsafe(this.buf.length);
    this.pending = this.io.stdout(chunk) ?? this.pending;
  }

  /** Resolves when stdout has taken what was written so far (at once, unless it asked to wait). */
  async drained(): Promise<void> {
    const pending = this.pending;
    this.pending = undefined;
    if (pending !== undefined) await pending;
  }

  /** Makes room for `bytes` more bytes at `pos`. */
  reserve(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    this.flush();
    if (bytes > this.buf.length) this.buf = Buffer.allocUnsafe(bytes);
  }
}

/**
 * Formats hits as `--json` objects or readable lines into a {@link HitOutput}. One per scan: it remembers the time
 * text of the last hit.
 */
export class HitFormatter {
  private readonly iso = new IsoTimes();

  constructor(
    private readonly output: HitOutput,
    private readonly json: boolean,
    private readonly withVhost: boolean,
  ) {}

  /** A hit as strings (the ones {@link raw} declined). */
  hit(hit: LogHit): void {
    const iso = hit.time === null ? 'null' : this.iso.format(hit.time);
    if (!this.json) {
      const vhost = this.withVhost ? ` ${hit.vhost ?? '-'}` : '';
      this.output.text(`${iso} ${hit.status} ${hit.bytes ?? '-'} ${hit.client} ${hit.user ?? '-'}${vhost} ${JSON.stringify(hit.path)}\n`);
      return;
    }
    const out = this.output;
    const w = new Writer(out);
    // Worst case per char of a string field is a 6-byte `\u0000` escape.
    const vhostLength = this.withVhost && hit.vhost !== undefined ? hit.vhost.length : 0;
    out.reserve(128 + 6 * (hit.path.length + hit.client.length + (hit.user?.length ?? 0) + vhostLength));
    w.constant(PATH, 1); // without its opening quote: string() writes one
    w.string(hit.path);
    w.constant(TIME);
    if (hit.time === null) w.constant(NULL);
    else w.quoted(iso);
    w.constant(CLIENT, 1);
    w.string(hit.client);
    w.constant(USER);
    if (hit.user === null) w.constant(NULL);
    else w.string(hit.user);
    w.constant(STATUS);
    w.integer(hit.status);
    w.constant(BYTES);
    if (hit.bytes === null) w.constant(NULL);
    else w.integer(hit.bytes);
    if (this.withVhost) {
      w.constant(VHOST);
      if (hit.vhost === undefined) w.constant(NULL);
      else w.string(hit.vhost);
    }
    w.constant(END);
    out.flushIfHalfFull();
  }

  /**
   * A hit from its located line and decoded path, copied byte for byte; false (nothing written) when a field would
   * need escaping or UTF-8 encoding, so {@link hit} must write it.
   */
  raw(fields: LineFields, bytes: Buffer, bytesBase: number, path: Uint8Array, pathLength: number): boolean {
    const text = fields.line;
    const clientStart = fields.spanStart('client');
    const clientEnd = fields.spanEnd('client');
    let userStart = fields.spanStart('user');
    const userEnd = fields.spanEnd('user');
    if (userStart >= 0 && userEnd === userStart + 1 && text.charCodeAt(userStart) === DASH) userStart = -1; // `-`: none
    const vhostStart = this.withVhost ? fields.spanStart('vhost') : -1;
    const vhostEnd = this.withVhost ? fields.spanEnd('vhost') : -1;
    if (clientStart < 0) return false;

    const out = this.output;
    out.reserve(160 + pathLength + (clientEnd - clientStart) + (userEnd - userStart) + (vhostEnd - vhostStart));
    const buf = out.buf;
    const time = fields.time;
    // Copies of log text stop at the first char that is not plain (pos -1): then nothing was written.
    let pos = out.pos;
    if (this.json) {
      pos = put(buf, pos, PATH);
      pos = putBytes(buf, pos, path, pathLength);
      buf[pos++] = QUOTE;
      pos = put(buf, pos, TIME);
      if (time === null) pos = put(buf, pos, NULL);
      else {
        buf[pos++] = QUOTE;
        pos = this.iso.put(buf, pos, time);
        buf[pos++] = QUOTE;
      }
      pos = put(buf, pos, CLIENT);
      pos = putPlain(buf, pos, bytes, bytesBase + clientStart, bytesBase + clientEnd);
      if (pos < 0) return false;
      buf[pos++] = QUOTE;
      pos = put(buf, pos, USER);
      if (userStart < 0) pos = put(buf, pos, NULL);
      else {
        buf[pos++] = QUOTE;
        pos = putPlain(buf, pos, bytes, bytesBase + userStart, bytesBase + userEnd);
        if (pos < 0) return false;
        buf[pos++] = QUOTE;
      }
      pos = put(buf, pos, STATUS);
      pos = putInteger(buf, pos, fields.status);
      pos = put(buf, pos, BYTES);
      if (fields.bytes === null) pos = put(buf, pos, NULL);
      else pos = putInteger(buf, pos, fields.bytes);
      if (this.withVhost) {
        pos = put(buf, pos, VHOST);
        if (vhostStart < 0) pos = put(buf, pos, NULL);
        else {
          buf[pos++] = QUOTE;
          pos = putPlain(buf, pos, bytes, bytesBase + vhostStart, bytesBase + vhostEnd);
          if (pos < 0) return false;
          buf[pos++] = QUOTE;
        }
      }
      pos = put(buf, pos, END);
    } else {
      // `${iso} ${status} ${bytes ?? '-'} ${client} ${user ?? '-'}[ ${vhost ?? '-'}] "${path}"`, as hit() writes it
      if (time === null) pos = put(buf, pos, NULL);
      else pos = this.iso.put(buf, pos, time);
      buf[pos++] = SPACE;
      pos = putInteger(buf, pos, fields.status);
      buf[pos++] = SPACE;
      if (fields.bytes === null) buf[pos++] = DASH;
      else pos = putInteger(buf, pos, fields.bytes);
      buf[pos++] = SPACE;
      pos = putPlain(buf, pos, bytes, bytesBase + clientStart, bytesBase + clientEnd);
      if (pos < 0) return false;
      buf[pos++] = SPACE;
      if (userStart < 0) buf[pos++] = DASH;
      else pos = putPlain(buf, pos, bytes, bytesBase + userStart, bytesBase + userEnd);
      if (pos < 0) return false;
      if (this.withVhost) {
        buf[pos++] = SPACE;
        if (vhostStart < 0) buf[pos++] = DASH;
        else pos = putPlain(buf, pos, bytes, bytesBase + vhostStart, bytesBase + vhostEnd);
        if (pos < 0) return false;
      }
      buf[pos++] = SPACE;
      buf[pos++] = QUOTE;
      pos = putBytes(buf, pos, path, pathLength);
      buf[pos++] = QUOTE;
      buf[pos++] = 10;
    }
    out.pos = pos;
    out.flushIfHalfFull();
    return true;
  }
}

// The writers below put a few bytes each at `pos` and return the position after them; the caller reserved the
// room. Plain loops: for a few bytes a call into the runtime (`set`, `write`) costs more.

function put(buf: Uint8Array, pos: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) buf[pos++] = bytes[i]!;
  return pos;
}

function putBytes(buf: Buffer, pos: number, bytes: Uint8Array, length: number): number {
  if (length > 64) {
    buf.set(bytes.subarray(0, length), pos);
    return pos + length;
  }
  for (let i = 0; i < length; i++) buf[pos++] = bytes[i]!;
  return pos;
}

/**
 * Copies src[start, end) when it is all printable ASCII without `"` and `\` (JSON text as it is, and the same bytes
 * in latin1 and UTF-8); else -1.
 */
function putPlain(buf: Buffer, pos: number, src: Buffer, start: number, end: number): number {
  for (let i = start; i < end; i++) {
    const c = src[i]!;
    if (c < SPACE || c > 126 || c === QUOTE || c === BACKSLASH) return -1;
    buf[pos++] = c;
  }
  return pos;
}

/** A non-negative integer's digits, without making a string of it. */
function putInteger(buf: Uint8Array, pos: number, n: number): number {
  if (n < 0x80000000) {
    // Small integers (every status, nearly every size) in int32 arithmetic, where V8 divides by 10 without a
    // floating-point division: digits from the last one back.
    let end = pos + 1;
    for (let v = n; v >= 10; v = (v / 10) | 0) end++;
    let v = n | 0;
    for (let at = end - 1; at >= pos; at--) {
      const q = (v / 10) | 0;
      buf[at] = 48 + v - q * 10;
      v = q;
    }
    return end;
  }
  let scale = 1;
  while (scale * 10 <= n) scale *= 10;
  for (; scale >= 1; scale /= 10) {
    const digit = Math.floor(n / scale);
    buf[pos++] = 48 + digit;
    n -= digit * scale;
  }
  return pos;
}

/**
 * Writes at the output's position; the caller reserved the room. A short-lived view (V8 keeps it in registers),
 * so the pieces below can be plain loops: they are a few bytes each, where `set`/`write` cost a call into the runtime.
 */
class Writer {
  private readonly buf: Buffer;

  constructor(private readonly out: HitOutput) {
    this.buf = out.buf;
  }

  constant(bytes: Uint8Array, skipLast = 0): void {
    const buf = this.buf;
    let pos = this.out.pos;
    const n = bytes.length - skipLast;
    for (let i = 0; i < n; i++) buf[pos++] = bytes[i]!;
    this.out.pos = pos;
  }

  string(s: string): void {
    if (NOT_PLAIN_ASCII.test(s)) {
      this.out.pos += this.buf.write(JSON.stringify(s), this.out.pos, 'utf8');
      return;
    }
    this.quoted(s);
  }

  /** A string known to be printable ASCII without quotes or backslashes. */
  quoted(s: string): void {
    const buf = this.buf;
    let pos = this.out.pos;
    buf[pos++] = QUOTE;
    if (s.length > 32) {
      pos += buf.write(s, pos, 'latin1');
    } else {
      for (let i = 0; i < s.length; i++) buf[pos++] = s.charCodeAt(i);
    }
    buf[pos++] = QUOTE;
    this.out.pos = pos;
  }

  integer(n: number): void {
    this.out.pos = putInteger(this.buf, this.out.pos, n);
  }
}

/** `Date#toISOString` costs about a microsecond; hits come in time order, so the text of the minute is reused. */
class IsoTimes {
  private minute = NaN;
  private prefix = '';
  private prefixBytes: Uint8Array = new Uint8Array(0);

  format(ms: number): string {
    this.setMinute(ms);
    const rest = ms - this.minute;
    const seconds = Math.floor(rest / 1000);
    const millis = rest - seconds * 1000;
    return `${this.prefix}${seconds < 10 ? '0' : ''}${seconds}.${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z`;
  }

  /** The same text as {@link format}, put as bytes at `pos`; returns the position after it. */
  put(buf: Uint8Array, pos: number, ms: number): number {
    this.setMinute(ms);
    const rest = ms - this.minute;
    const seconds = Math.floor(rest / 1000);
    const millis = rest - seconds * 1000;
    pos = put(buf, pos, this.prefixBytes);
    buf[pos++] = 48 + Math.floor(seconds / 10);
    buf[pos++] = 48 + (seconds % 10);
    buf[pos++] = 46; // .
    buf[pos++] = 48 + Math.floor(millis / 100);
    buf[pos++] = 48 + (Math.floor(millis / 10) % 10);
    buf[pos++] = 48 + (millis % 10);
    buf[pos++] = 90; // Z
    return pos;
  }

  private setMinute(ms: number): void {
    const minute = Math.floor(ms / 60000) * 60000;
    if (minute !== this.minute) {
      this.minute = minute;
      this.prefix = new Date(minute).toISOString().slice(0, 17); // `2024-03-01T08:15:`
      this.prefixBytes = bytes(this.prefix);
    }
  }
}
