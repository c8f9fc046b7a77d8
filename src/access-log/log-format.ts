/**
 * Apache access-log lines, read back through the same `LogFormat` string that wrote them.
 *
 * No npm parser is both faithful to `LogFormat` (any format string, Apache's escaping) and fast enough for the
 * receipt scanner (docs/speed.md has its figures), so this is a small one of our own. A format is compiled once into a function that finds each field with
 * `indexOf` and records where it is; strings are cut out of the line only for the fields a caller asks for.
 *
 * Lines are treated as byte strings: the scanner decodes log bytes as latin1 so one char is one byte. Apache writes
 * non-printable bytes as `\xhh` and quotes/backslashes as `\"`/`\\` (ap_escape_logitem); string fields are unescaped
 * back to those bytes here, and turning bytes into text (UTF-8) is left to whoever interprets them (hit-rule.ts).
 *
 * Over 500 lines on purpose: the format's tokens, the code generated from them and the field accessors of LineFields
 * are one contract, kept in one file so they change together.
 */

/** Formats every Apache install ships (Debian's apache2.conf and the httpd docs spell them the same way). */
export const LOG_FORMAT_PRESETS: Readonly<Record<string, string>> = {
  common: '%h %l %u %t "%r" %>s %b',
  combined: '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"',
  vhost_combined: '%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"',
};

/** One access-log line. Fields the format does not log are `null` (or `undefined` for the optional ones). */
export interface LogRecord {
  /** Remote host or IP (`%h`, `%a`), IPv6 as Apache writes it. */
  client: string;
  /** Authenticated user (`%u`); null when Apache wrote `-`. */
  user: string | null;
  /** Request start as epoch milliseconds (`%t`, `%{sec|msec|usec}t`); null when the format logs no usable time. */
  time: number | null;
  /**
   * From `%r` (or `%m`), as logged: a method is a token, so it is never unescaped. For a request line without spaces
   * (`-`, junk bytes) the whole request line.
   */
  method: string;
  /** Raw request target as the client sent it (still percent-encoded, query included). */
  path: string;
  /** e.g. `HTTP/1.1`; empty for HTTP/0.9-style or malformed request lines. */
  protocol: string;
  /** Final status (`%>s`, else `%s`); 0 when the format logs none. */
  status: number;
  /** Response size from `%b`, `%B` or `%O` (first in the format); null for `-` or when not logged. */
  bytes: number | null;
  /** null when Apache wrote `-` or the format does not log it. */
  referer: string | null;
  userAgent: string | null;
  /** `%v` (canonical ServerName) or `%V`. */
  vhost: string | undefined;
  /** `%p`. */
  port: number | undefined;
  /** `%D` (microseconds) or `%T` (seconds, scaled). */
  durationMicros: number | undefined;
  /** Directives without a dedicated field, keyed by the directive as written (e.g. `%{X-Forwarded-For}i`). */
  extras: Record<string, string> | undefined;
}

/** What a directive's value means for {@link LogRecord}. */
export type FieldRole =
  | 'client'
  | 'logname'
  | 'user'
  | 'time'
  | 'request'
  | 'method'
  | 'urlPath'
  | 'query'
  | 'protocol'
  | 'status'
  | 'originalStatus'
  | 'bytes'
  | 'referer'
  | 'userAgent'
  | 'vhost'
  | 'port'
  | 'durationMicros'
  | 'durationSeconds'
  | 'extra';

export type FormatToken =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'field'; readonly directive: string; readonly role: FieldRole; readonly argument: string | undefined };

export interface CompiledLogFormat {
  /** The LogFormat string after preset expansion. */
  readonly format: string;
  readonly tokens: readonly FormatToken[];
  /** Returns null for a line that does not have the format's shape (never throws on input). */
  parse(line: string): LogRecord | null;
  /**
   * The allocation-free core of {@link parse} for hot loops: checks the line (no newline) and records where its
   * fields are. Returns null when the line does not parse, else a {@link LineFields} that is
   * reused by the next call, so read what you need from it before locating another line.
   */
  locate(line: string): LineFields | null;
  /**
   * {@link locate} for the line at [start, end) of a longer text (no newline inside): spans are offsets into `text`,
   * so a scanner need not cut each line out of its chunk first.
   */
  locateIn(text: string, start: number, end: number): LineFields | null;
  /**
   * The literal text right around the first field with one of the given roles (in preference order), so a byte
   * pre-filter can look for e.g. `" 200 ` without parsing. Undefined when the format has no such field.
   */
  fieldContext(roles: readonly FieldRole[]): { readonly before: string; readonly after: string; readonly role: FieldRole } | undefined;
}

export class LogFormatError extends Error {
  override readonly name = 'LogFormatError';
}

/** Accepts a preset name (`combined`, `common`, `vhost_combined`) or a LogFormat string. */
export function compileLogFormat(nameOrFormat: string): CompiledLogFormat {
  const format = Object.hasOwn(LOG_FORMAT_PRESETS, nameOrFormat) ? LOG_FORMAT_PRESETS[nameOrFormat]! : nameOrFormat;
  if (!format.includes('%')) {
    throw new LogFormatError(
      `"${nameOrFormat}" is neither a known log format name (${Object.keys(LOG_FORMAT_PRESETS).join(', ')}) nor a LogFormat string`,
    );
  }
  const tokens = tokenize(format);
  const extraDirectives: string[] = [];
  const steps = planSteps(tokens, extraDirectives);
  const locateIn = compileLocate(steps, new LineFields(extraDirectives));
  return {
    format,
    tokens,
    parse: (line) => locateIn(line, 0, line.length)?.toRecord() ?? null,
    locate: (line) => locateIn(line, 0, line.length),
    locateIn,
    fieldContext(roles) {
      for (const role of roles) {
        const i = tokens.findIndex((t) => t.kind === 'field' && t.role === role);
        if (i < 0) continue;
        const prev = tokens[i - 1];
        const next = tokens[i + 1];
        return {
          role,
          before: prev !== undefined && prev.kind === 'literal' ? prev.text : '',
          after: next !== undefined && next.kind === 'literal' ? next.text : '',
        };
      }
      return undefined;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Format string -> tokens

function roleOf(letter: string, argument: string | undefined, isFinal: boolean): FieldRole {
  switch (letter) {
    case 'h':
    case 'a':
      return 'client';
    case 'l':
      return 'logname';
    case 'u':
      return 'user';
    case 't':
      return 'time';
    case 'r':
      return 'request';
    case 'm':
      return 'method';
    case 'U':
      return 'urlPath';
    case 'q':
      return 'query';
    case 'H':
      return 'protocol';
    case 's':
      // Apache's `%s` is the status of the original request (before internal redirects); `%>s` the final one.
      return isFinal ? 'status' : 'originalStatus';
    case 'b':
    case 'B':
    case 'O':
      return 'bytes';
    case 'v':
    case 'V':
      return 'vhost';
    case 'p':
      // `%{remote}p` and `%{local}p` are not the port the vhost listens on.
      return argument === undefined || argument === 'canonical' ? 'port' : 'extra';
    case 'D':
      return 'durationMicros';
    case 'T':
      return argument === undefined || argument === 's' ? 'durationSeconds' : argument === 'us' ? 'durationMicros' : 'extra';
    case 'i': {
      const header = (argument ?? '').toLowerCase();
      if (header === 'referer') return 'referer';
      if (header === 'user-agent') return 'userAgent';
      return 'extra';
    }
    default:
      return 'extra';
  }
}

function tokenize(format: string): FormatToken[] {
  const tokens: FormatToken[] = [];
  let literal = '';
  const flushLiteral = (): void => {
    if (literal !== '') tokens.push({ kind: 'literal', text: literal });
    literal = '';
  };
  let i = 0;
  while (i < format.length) {
    const c = format[i]!;
    if (c === '\\' && i + 1 < format.length) {
      // mod_log_config's own escapes in literal text; anything else stands for itself (so `\"` copied from a config
      // line means `"`).
      const e = format[i + 1]!;
      literal += e === 'n' ? '\n' : e === 't' ? '\t' : e;
      i += 2;
      continue;
    }
    if (c !== '%') {
      literal += c;
      i++;
      continue;
    }
    const start = i;
    i++;
    if (format[i] === '%') {
      literal += '%';
      i++;
      continue;
    }
    let isFinal = false;
    let argument: string | undefined;
    // Modifiers: `<`/`>` (original/final request), `!` and comma-separated status codes (log only for these).
    for (;;) {
      const m = format[i];
      if (m === '<' || m === '>') {
        isFinal = m === '>';
        i++;
      } else if (m === '!' || m === ',' || (m !== undefined && m >= '0' && m <= '9')) {
        i++;
      } else if (m === '{') {
        const close = format.indexOf('}', i);
        if (close < 0) throw new LogFormatError(`Unterminated %{ in LogFormat at position ${start}: ${format}`);
        argument = format.slice(i + 1, close);
        i = close + 1;
      } else {
        break;
      }
    }
    const letter = format[i];
    if (letter === undefined || !/[a-zA-Z]/.test(letter)) {
      throw new LogFormatError(`Incomplete directive at position ${start} in LogFormat: ${format}`);
    }
    i++;
    flushLiteral();
    const directive = format.slice(start, i);
    tokens.push({ kind: 'field', directive, role: roleOf(letter, argument, isFinal || letter !== 's'), argument });
  }
  flushLiteral();
  // `%s` alone is the only status the format has: use it as the status.
  if (!tokens.some((t) => t.kind === 'field' && t.role === 'status')) {
    const idx = tokens.findIndex((t) => t.kind === 'field' && t.role === 'originalStatus');
    const t = tokens[idx];
    if (t !== undefined && t.kind === 'field') tokens[idx] = { ...t, role: 'status' };
  }
  return tokens;
}

// ---------------------------------------------------------------------------------------------------------------
// Tokens -> steps

type TimeKind = 'clf' | 'sec' | 'msec' | 'usec' | 'other';

function timeKindOf(argument: string | undefined): TimeKind {
  if (argument === undefined) return 'clf';
  const a = argument.replace(/^(begin|end):/, '');
  if (a === 'sec' || a === 'msec' || a === 'usec') return a;
  return 'other';
}

// Where a field's value ends.
/** At the next literal, found with indexOf. */
const END_LITERAL = 0;
/** As END_LITERAL, skipping quotes that Apache escaped as `\"` (a field between `"` literals). */
const END_QUOTED = 1;
/** Last field before a final literal: everything up to that literal at the end of the line. */
const END_FINAL = 2;
/** Last token of the format: the rest of the line. */
const END_LINE = 3;
/** `%t`: a bracketed `[...]` value; the brackets belong to the field. */
const END_BRACKET = 4;

// What the generated code does with a field's value.
const DO_SPAN = 0;
const DO_IGNORE = 1;
const DO_STATUS = 2;
const DO_BYTES = 3;
const DO_TIME_CLF = 4;
const DO_TIME_SEC = 5;
const DO_TIME_MSEC = 6;
const DO_TIME_USEC = 7;
const DO_PORT = 8;
const DO_DURATION_US = 9;
const DO_DURATION_S = 10;
/** `%U%q`: one field split at `?`, as there is no separator to find between the two directives. */
const DO_URL_WITH_QUERY = 11;
/** Actions whose value is digits, or `-` for DO_BYTES. */
const NUMERIC_ACTIONS: ReadonlySet<number> = new Set([
  DO_STATUS,
  DO_BYTES,
  DO_TIME_SEC,
  DO_TIME_MSEC,
  DO_TIME_USEC,
  DO_PORT,
  DO_DURATION_US,
  DO_DURATION_S,
]);

// Span slots of LineFields; generic directives get the slots after these.
const S_CLIENT = 0;
const S_USER = 1;
const S_REQUEST = 2;
const S_METHOD = 3;
const S_URL_PATH = 4;
const S_QUERY = 5;
const S_PROTOCOL = 6;
const S_REFERER = 7;
const S_USER_AGENT = 8;
const S_VHOST = 9;
const SLOTS = 10;

const SPAN_SLOT: Partial<Record<FieldRole, number>> = {
  client: S_CLIENT,
  user: S_USER,
  request: S_REQUEST,
  method: S_METHOD,
  urlPath: S_URL_PATH,
  query: S_QUERY,
  protocol: S_PROTOCOL,
  referer: S_REFERER,
  userAgent: S_USER_AGENT,
  vhost: S_VHOST,
};

/** One step of a compiled format: match a literal, or find the end of a field and use its value. */
interface Step {
  /** The text a literal step must find; '' for a field step. */
  readonly literal: string;
  /** Its char code when the literal is one char (compared without a call), else -1. */
  readonly literalChar: number;
  /** DO_* for a field step, -1 for a literal step. */
  readonly action: number;
  readonly end: number;
  /**
   * The literal that ends the field (END_LITERAL, END_QUOTED, END_FINAL). The field step consumes it, as finding it
   * already proved it is there, so no literal step follows such a field.
   */
  readonly terminator: string;
  /** Span slot for DO_SPAN and DO_URL_WITH_QUERY. */
  readonly slot: number;
}

function planSteps(tokens: readonly FormatToken[], extraDirectives: string[]): Step[] {
  const steps: Step[] = [];
  // Where a role appears twice (`%h` and `%a`, `%b` and `%O`), the first one in the format wins.
  const taken = new Set<FieldRole>();
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === 'literal') {
      steps.push({ literal: t.text, literalChar: t.text.length === 1 ? t.text.charCodeAt(0) : -1, action: -1, end: END_LINE, terminator: '', slot: -1 });
      continue;
    }
    const prev = tokens[i - 1];
    let next = tokens[i + 1];
    let nextIndex = i + 1;
    let action: number;
    let slot = -1;
    const timeKind = t.role === 'time' ? timeKindOf(t.argument) : 'other';
    if (t.role === 'urlPath' && next !== undefined && next.kind === 'field' && next.role === 'query') {
      action = DO_URL_WITH_QUERY;
      slot = S_URL_PATH;
      taken.add('urlPath').add('query');
      nextIndex++;
      next = tokens[nextIndex];
      i++;
    } else if (t.role === 'extra' || t.role === 'originalStatus' || (t.role === 'time' && timeKind === 'other')) {
      action = DO_SPAN;
      slot = SLOTS + extraDirectives.length;
      extraDirectives.push(t.directive);
    } else if (t.role === 'logname' || taken.has(t.role)) {
      action = DO_IGNORE;
    } else {
      taken.add(t.role);
      switch (t.role) {
        case 'status':
          action = DO_STATUS;
          break;
        case 'bytes':
          action = DO_BYTES;
          break;
        case 'time':
          action = timeKind === 'clf' ? DO_TIME_CLF : timeKind === 'sec' ? DO_TIME_SEC : timeKind === 'msec' ? DO_TIME_MSEC : DO_TIME_USEC;
          // `%t` and `%{sec}t` mean the same instant; only the first is read.
          taken.add('time');
          break;
        case 'port':
          action = DO_PORT;
          break;
        case 'durationMicros':
        case 'durationSeconds':
          action = t.role === 'durationMicros' ? DO_DURATION_US : DO_DURATION_S;
          taken.add('durationMicros').add('durationSeconds');
          break;
        default:
          action = DO_SPAN;
          slot = SPAN_SLOT[t.role] ?? -1;
          if (slot < 0) action = DO_IGNORE;
      }
    }
    let end: number;
    let terminator = '';
    if (t.role === 'time' && t.argument === undefined) {
      end = END_BRACKET; // also for a second, ignored `%t`: its value has a space in it
    } else if (next === undefined) {
      end = END_LINE;
    } else if (next.kind === 'field') {
      throw new LogFormatError(
        `${t.directive} is directly followed by ${next.directive} with nothing between them, so lines cannot be split`,
      );
    } else {
      terminator = next.text;
      const quoted = prev !== undefined && prev.kind === 'literal' && prev.text.endsWith('"') && terminator.startsWith('"');
      if (nextIndex === tokens.length - 1) end = END_FINAL;
      else end = quoted ? END_QUOTED : END_LITERAL;
      i = nextIndex; // the terminator literal is consumed by this step
    }
    steps.push({ literal: '', literalChar: -1, action, end, terminator, slot });
  }
  return steps;
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing

/**
 * Where the fields of the last located line are. Strings are cut out (and unescaped) only when asked for, so a
 * scanner that needs three fields of a line pays for three.
 */
export class LineFields {
  /** The text the spans point into: the line, or the chunk that holds it. */
  line = '';
  /** [start, end) of the located line in `line`, CR of a CRLF excluded. */
  lineStart = 0;
  lineEnd = 0;
  /** Counts located lines, so per-line caches know when a new line was located in the same text. */
  generation = 0;
  /** Final status; 0 when the format logs none. */
  status = 0;
  bytes: number | null = null;
  time: number | null = null;
  port: number | undefined = undefined;
  durationMicros: number | undefined = undefined;
  /** [start, end) of each slot in `line`; -1 for fields the format does not have. */
  readonly spans: Int32Array;
  // Where `%r` splits into method, target and protocol, worked out once per line on first use.
  private splitGeneration = -1;
  private methodEnd = 0;
  private protocolStart = -1;

  constructor(private readonly extraDirectives: readonly string[]) {
    this.spans = new Int32Array(2 * (SLOTS + extraDirectives.length)).fill(-1);
  }

  client(): string {
    const a = this.spans[2 * S_CLIENT]!;
    return a < 0 ? '' : this.line.slice(a, this.spans[2 * S_CLIENT + 1]);
  }

  user(): string | null {
    const a = this.spans[2 * S_USER]!;
    if (a < 0 || (this.spans[2 * S_USER + 1] === a + 1 && this.line.charCodeAt(a) === 45)) return null;
    return unescapeLogItem(this.line.slice(a, this.spans[2 * S_USER + 1]));
  }

  referer(): string | null {
    return dashToNull(this.text(S_REFERER));
  }

  userAgent(): string | null {
    return dashToNull(this.text(S_USER_AGENT));
  }

  vhost(): string | undefined {
    const a = this.spans[2 * S_VHOST]!;
    return a < 0 ? undefined : this.line.slice(a, this.spans[2 * S_VHOST + 1]);
  }

  /** Whether the request method is `method`, without cutting it out of the line. */
  methodIs(method: string): boolean {
    const r = this.spans[2 * S_REQUEST]!;
    if (r < 0) {
      const [a, b] = this.methodSpan();
      return b - a === method.length && this.line.startsWith(method, a);
    }
    // `%r`: checked in place, no span pair made, as this runs for every 200 or 206 line.
    this.splitRequest();
    return this.methodEnd - r === method.length && this.line.startsWith(method, r);
  }

  method(): string {
    const [a, b] = this.methodSpan();
    return this.line.slice(a, b);
  }

  /** The raw request target (percent-encoding and query kept), e.g. `/r/a%20b.pdf?x=1`. */
  target(): string {
    const r = this.spans[2 * S_REQUEST]!;
    if (r < 0) return (this.text(S_URL_PATH) ?? '') + (this.text(S_QUERY) ?? '');
    const end = this.spans[2 * S_REQUEST + 1]!;
    this.splitRequest();
    if (this.methodEnd >= end) return '';
    return unescapeLogItem(this.line.slice(this.methodEnd + 1, this.protocolStart < 0 ? end : this.protocolStart - 1));
  }

  /**
   * Start of the raw request target of `%r` in `line` (escapes not undone; see {@link targetEnd}), or -1 when the
   * format has no `%r`. For byte-level readers that avoid {@link target}'s copies.
   */
  targetStart(): number {
    const r = this.spans[2 * S_REQUEST]!;
    if (r < 0) return -1;
    this.splitRequest();
    const end = this.spans[2 * S_REQUEST + 1]!;
    return this.methodEnd >= end ? end : this.methodEnd + 1;
  }

  /** End of the raw request target (see {@link targetStart}); only meaningful when that is not -1. */
  targetEnd(): number {
    this.splitRequest();
    return this.protocolStart < 0 ? this.spans[2 * S_REQUEST + 1]! : this.protocolStart - 1;
  }

  /** Start of a field's raw text in `line` (-1 when the format does not log it), for byte-level readers. */
  spanStart(field: RawField): number {
    return this.spans[2 * RAW_FIELD_SLOT[field]]!;
  }

  spanEnd(field: RawField): number {
    return this.spans[2 * RAW_FIELD_SLOT[field] + 1]!;
  }

  protocol(): string {
    const r = this.spans[2 * S_REQUEST]!;
    if (r < 0) return this.text(S_PROTOCOL) ?? '';
    this.splitRequest();
    return this.protocolStart < 0 ? '' : this.line.slice(this.protocolStart, this.spans[2 * S_REQUEST + 1]);
  }

  toRecord(): LogRecord {
    let extras: Record<string, string> | undefined;
    for (let i = 0; i < this.extraDirectives.length; i++) {
      extras ??= {};
      extras[this.extraDirectives[i]!] = this.text(SLOTS + i) ?? '';
    }
    return {
      client: this.client(),
      user: this.user(),
      time: this.time,
      method: this.method(),
      path: this.target(),
      protocol: this.protocol(),
      status: this.status,
      bytes: this.bytes,
      referer: this.referer(),
      userAgent: this.userAgent(),
      vhost: this.vhost(),
      port: this.port,
      durationMicros: this.durationMicros,
      extras,
    };
  }

  private text(slot: number): string | undefined {
    const a = this.spans[2 * slot]!;
    return a < 0 ? undefined : unescapeLogItem(this.line.slice(a, this.spans[2 * slot + 1]));
  }

  private methodSpan(): [number, number] {
    const r = this.spans[2 * S_REQUEST]!;
    if (r < 0) {
      const m = this.spans[2 * S_METHOD]!;
      return m < 0 ? [0, 0] : [m, this.spans[2 * S_METHOD + 1]!];
    }
    this.splitRequest();
    return [r, this.methodEnd];
  }

  /**
   * `%r` is `METHOD target protocol`. A request line without a space (`-`, junk) is all method; without a trailing
   * `HTTP/x` word (HTTP/0.9, junk) everything after the method is target.
   */
  private splitRequest(): void {
    if (this.splitGeneration === this.generation) return;
    this.splitGeneration = this.generation;
    const r = this.spans[2 * S_REQUEST]!;
    const end = this.spans[2 * S_REQUEST + 1]!;
    const sp1 = this.line.indexOf(' ', r);
    this.methodEnd = sp1 < 0 || sp1 >= end ? end : sp1;
    const sp2 = this.line.lastIndexOf(' ', end - 1);
    this.protocolStart = sp2 > this.methodEnd && this.line.startsWith('HTTP/', sp2 + 1) ? sp2 + 1 : -1;
  }
}

/** Fields whose raw spans {@link LineFields.spanStart} hands out. */
export type RawField = 'client' | 'user' | 'vhost';
const RAW_FIELD_SLOT: Readonly<Record<RawField, number>> = { client: S_CLIENT, user: S_USER, vhost: S_VHOST };

function dashToNull(s: string | undefined): string | null {
  return s === undefined || s === '-' ? null : s;
}

type LocateFunction = (text: string, start: number, end: number) => LineFields | null;

/**
 * Compiles the steps into one straight-line JavaScript function. Walking the steps in a generic loop cost about
 * three times as much per line (dispatch on step kind and action per field dominated the few `indexOf` calls that do
 * the work), and the scanner parses every candidate line. The generated source holds only numbers and literals
 * from the format, quoted with JSON.stringify, so no input can inject code.
 */
function compileLocate(steps: readonly Step[], fields: LineFields): LocateFunction {
  const code: string[] = [
    '"use strict";',
    // `line` is the text that holds the line; `len` is where the line ends in it (searches that run past it fail).
    'return function locate(line, start, len) {',
    '  const f = fields, spans = f.spans;',
    // Tolerate CRLF logs (files copied through Windows tools).
    '  if (len > start && line.charCodeAt(len - 1) === 13) len--;',
    '  let pos = start, from = 0, to = 0, n = 0;',
    '  f.line = line; f.lineStart = start; f.lineEnd = len; f.generation++; f.bytes = null;',
  ];
  for (const step of steps) {
    if (step.action < 0) {
      // Past the line's end comes its CR or newline, where a literal without those chars stops matching by itself;
      // only a literal that has them needs the bound checked.
      const bound = /[\r\n]/.test(step.literal) ? `pos + ${step.literal.length} > len || ` : '';
      code.push(
        step.literalChar >= 0
          ? `  if (${bound}line.charCodeAt(pos) !== ${step.literalChar}) return null;`
          : `  if (${bound}!line.startsWith(${JSON.stringify(step.literal)}, pos)) return null;`,
        `  pos += ${step.literal.length};`,
      );
      continue;
    }
    const t = JSON.stringify(step.terminator);
    const tl = step.terminator.length;
    // The searches below find one char with indexOf (a memchr) and compare the rest of a terminator in place:
    // indexOf with a longer string sets up a substring search on every call, which measured a third slower.
    const t0 = step.terminator.charCodeAt(0);
    const rest = (at: string, from: number): string =>
      Array.from(step.terminator.slice(from), (c, k) => ` && line.charCodeAt(${at} + ${from + k}) === ${c.charCodeAt(0)}`).join('');
    // A value that must be digits (or `-`) cannot hold the terminator's first char when that is neither, so the
    // first such char is the terminator or the line does not parse.
    const numeric = NUMERIC_ACTIONS.has(step.action) && !(t0 >= 48 && t0 <= 57) && t0 !== 45;
    switch (step.end) {
      case END_BRACKET:
        if (step.action === DO_TIME_CLF) {
          // A CLF time is 26 chars; the parser checks every one of them, so none can be a `]`.
          code.push('  if (line.charCodeAt(pos) !== 91) return null;', '  to = pos + 27; if (to >= len || line.charCodeAt(to) !== 93) return null;');
        } else {
          code.push('  if (line.charCodeAt(pos) !== 91) return null;', '  to = line.indexOf("]", pos); if (to < 0 || to >= len) return null;');
        }
        code.push('  from = pos + 1; pos = to + 1;');
        break;
      case END_LINE:
        code.push('  from = pos; to = len; pos = len;');
        break;
      case END_FINAL:
        code.push(`  from = pos; to = len - ${tl}; if (to < pos || !line.startsWith(${t}, to)) return null; pos = len;`);
        break;
      case END_QUOTED:
        if (numeric) {
          code.push(`  from = pos; to = line.indexOf(${JSON.stringify(step.terminator[0])}, pos); pos = to + ${tl}; if (to < 0 || pos > len${rest('to', 1).replace(/ && /g, ' || !(').replace(/(=== \d+)/g, '$1)')}) return null;`);
        } else {
          code.push(`  from = pos; to = indexOfQuoted(line, ${t}, pos, len); pos = to + ${tl}; if (to < 0) return null;`);
        }
        break;
      default:
        if (numeric || tl === 1) {
          code.push(`  from = pos; to = line.indexOf(${JSON.stringify(step.terminator[0])}, pos); pos = to + ${tl}; if (to < 0 || pos > len${rest('to', 1).replace(/ && /g, ' || !(').replace(/(=== \d+)/g, '$1)')}) return null;`);
        } else {
          code.push(`  from = pos; to = line.indexOf(${t}, pos); pos = to + ${tl}; if (to < 0 || pos > len) return null;`);
        }
    }
    const number = (assign: string): string => `  n = parseDigits(line, from, to); if (n < 0) return null; ${assign}`;
    switch (step.action) {
      case DO_SPAN:
        if (step.slot === S_CLIENT) code.push('  if (to <= from) return null;');
        code.push(`  spans[${2 * step.slot}] = from; spans[${2 * step.slot + 1}] = to;`);
        break;
      case DO_STATUS:
        // Apache always writes three digits; being as strict keeps the scanner's `" 200 ` pre-filter exact.
        code.push('  if (to - from !== 3) return null;', number('f.status = n;'));
        break;
      case DO_BYTES:
        // `%b` writes `-` for an empty body; anything else must be a number.
        code.push(`  if (to - from !== 1 || line.charCodeAt(from) !== 45) { ${number('f.bytes = n;').trim()} }`);
        break;
      case DO_TIME_CLF:
        // parseClfTime (clfTimeParser) keeps the minute of the last line, so a line of the same minute only has its
        // seconds read.
        code.push('  if (to - from !== 26) return null;', '  n = parseClfTime(line, from); if (n !== n) return null;', '  f.time = n;');
        break;
      case DO_TIME_SEC:
        code.push(number('f.time = n * 1000;'));
        break;
      case DO_TIME_MSEC:
        code.push(number('f.time = n;'));
        break;
      case DO_TIME_USEC:
        code.push(number('f.time = Math.floor(n / 1000);'));
        break;
      case DO_PORT:
        code.push(number('f.port = n;'));
        break;
      case DO_DURATION_US:
        code.push(number('f.durationMicros = n;'));
        break;
      case DO_DURATION_S:
        code.push(number('f.durationMicros = n * 1000000;'));
        break;
      case DO_URL_WITH_QUERY:
        code.push(
          '  n = line.indexOf("?", from); if (n < 0 || n > to) n = to;',
          `  spans[${2 * S_URL_PATH}] = from; spans[${2 * S_URL_PATH + 1}] = n;`,
          `  spans[${2 * S_QUERY}] = n; spans[${2 * S_QUERY + 1}] = to;`,
        );
        break;
      default: // DO_IGNORE: the field only has to be there
    }
  }
  code.push('  return pos === len ? f : null;', '};');
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the format is compiled into a parser on purpose (no user input in the code)
  const factory = new Function('fields', 'parseDigits', 'parseClfTime', 'indexOfQuoted', code.join('\n')) as (
    fields: LineFields,
    digits: typeof parseDigits,
    clf: ClfTimeParser,
    quoted: typeof indexOfQuoted,
  ) => LocateFunction;
  return factory(fields, parseDigits, clfTimeParser(), indexOfQuoted);
}

/**
 * The first `terminator` (which starts with `"`) in line[from, len), skipping quotes Apache escaped as `\"` (an odd
 * run of backslashes before it, counted from `from`); -1 when there is none.
 */
function indexOfQuoted(line: string, terminator: string, from: number, len: number): number {
  const tl = terminator.length;
  for (let at = line.indexOf('"', from); at >= 0 && at + tl <= len; at = line.indexOf('"', at + 1)) {
    let k = 1;
    while (k < tl && line.charCodeAt(at + k) === terminator.charCodeAt(k)) k++;
    if (k < tl) continue;
    let backslashes = 0;
    for (let b = at - 1; b >= from && line.charCodeAt(b) === 92; b--) backslashes++;
    if ((backslashes & 1) === 0) return at;
  }
  return -1;
}

/** Reverses ap_escape_logitem: `\"`, `\\`, `\n`-style and `\xhh` escapes back to the bytes (as latin1 chars). */
export function unescapeLogItem(s: string): string {
  if (!s.includes('\\')) return s;
  let out = '';
  let i = 0;
  while (i < s.length) {
    const bs = s.indexOf('\\', i);
    if (bs < 0 || bs === s.length - 1) {
      out += s.slice(i);
      break;
    }
    out += s.slice(i, bs);
    const e = s[bs + 1]!;
    i = bs + 2;
    switch (e) {
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'b':
        out += '\b';
        break;
      case 'v':
        out += '\v';
        break;
      case 'x': {
        const hex = s.slice(bs + 2, bs + 4);
        if (/^[0-9a-fA-F]{2}$/.test(hex)) {
          out += String.fromCharCode(parseInt(hex, 16));
          i = bs + 4;
        } else {
          out += '\\x';
        }
        break;
      }
      default:
        out += e; // `\"`, `\\`, and anything Apache would not have written stays as the char itself
    }
  }
  return out;
}

/** Parses a run of ASCII digits in [from, to); -1 if empty or not all digits (no substring allocated). */
function parseDigits(line: string, from: number, to: number): number {
  if (to <= from || to - from > 15) return -1;
  let n = 0;
  for (let k = from; k < to; k++) {
    const d = line.charCodeAt(k) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

function monthIndex(a: number, b: number, c: number): number {
  // Case-sensitive like strftime's %b in the C locale Apache uses.
  switch ((a << 16) | (b << 8) | c) {
    case 0x4a616e: return 0; // Jan
    case 0x466562: return 1; // Feb
    case 0x4d6172: return 2; // Mar
    case 0x417072: return 3; // Apr
    case 0x4d6179: return 4; // May
    case 0x4a756e: return 5; // Jun
    case 0x4a756c: return 6; // Jul
    case 0x417567: return 7; // Aug
    case 0x536570: return 8; // Sep
    case 0x4f6374: return 9; // Oct
    case 0x4e6f76: return 10; // Nov
    case 0x446563: return 11; // Dec
    default: return -1;
  }
}

/** Two ASCII digits at `at`, or -1. */
function twoDigits(line: string, at: number): number {
  const a = line.charCodeAt(at) - 48;
  const b = line.charCodeAt(at + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/** Reads a CLF time, `10/Oct/2000:13:55:36 -0700` (26 chars at `from`), to epoch ms; NaN when malformed. */
type ClfTimeParser = (line: string, from: number) => number;

/**
 * A CLF time parser with a memory of its own: lines arrive in time order, so it keeps the minute (date, hour,
 * minute and zone) of the last `%t` it parsed, as char codes, and the next line of the same minute only needs its
 * seconds read. Comparing codes in a loop measured 40% faster than two startsWith calls against kept slices of the
 * text. One per compiled format (the memory is the format's, not the module's).
 */
function clfTimeParser(): ClfTimeParser {
  const lastMinute = new Int32Array(26);
  let lastMinuteValid = false;
  let lastMinuteMs = 0;

  const sameMinute = (line: string, from: number): boolean => {
    if (!lastMinuteValid) return false;
    for (let k = 0; k < 17; k++) if (line.charCodeAt(from + k) !== lastMinute[k]) return false;
    for (let k = 20; k < 26; k++) if (line.charCodeAt(from + k) !== lastMinute[k]) return false;
    return true;
  };

  return (line, from) => {
    if (line.charCodeAt(from + 17) !== 58 || line.charCodeAt(from + 20) !== 32) return NaN;
    const second = twoDigits(line, from + 18);
    if (second < 0 || second > 60) return NaN;
    if (sameMinute(line, from)) return lastMinuteMs + second * 1000;
    if (line.charCodeAt(from + 2) !== 47 || line.charCodeAt(from + 6) !== 47) return NaN;
    if (line.charCodeAt(from + 11) !== 58 || line.charCodeAt(from + 14) !== 58) return NaN;
    const dayOfMonth = twoDigits(line, from);
    const month = monthIndex(line.charCodeAt(from + 3), line.charCodeAt(from + 4), line.charCodeAt(from + 5));
    const century = twoDigits(line, from + 7);
    const yearOfCentury = twoDigits(line, from + 9);
    const hour = twoDigits(line, from + 12);
    const minute = twoDigits(line, from + 15);
    const sign = line.charCodeAt(from + 21);
    const tzh = twoDigits(line, from + 22);
    const tzm = twoDigits(line, from + 24);
    if (dayOfMonth < 1 || dayOfMonth > 31 || month < 0 || century < 0 || yearOfCentury < 0) return NaN;
    if (hour < 0 || hour > 23 || minute < 0 || minute > 59) return NaN;
    if (tzh < 0 || tzm < 0 || (sign !== 43 && sign !== 45)) return NaN;
    const day = daysFromCivil(century * 100 + yearOfCentury, month + 1, dayOfMonth);
    const offsetMinutes = sign === 45 ? -(tzh * 60 + tzm) : tzh * 60 + tzm;
    lastMinuteMs = ((day * 24 + hour) * 60 + minute - offsetMinutes) * 60_000;
    for (let k = 0; k < 26; k++) lastMinute[k] = line.charCodeAt(from + k);
    lastMinuteValid = true;
    return lastMinuteMs + second * 1000;
  };
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm; Date.UTC is slower per call). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146097 + dayOfEra - 719468;
}
