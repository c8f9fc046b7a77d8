/**
 * Fast scan of an Apache access log for hits (hit-rule.ts).
 *
 * Most lines of a busy log are not receipts, so lines are not parsed one by one. Each chunk of complete lines is
 * decoded once as latin1 (one char per byte, so char offsets are byte offsets) and a pre-filter looks for the
 * substrings every hit line must contain: the file literal of the glob (`.pdf`, or a `%`/`\` that could spell it)
 * and the status as the format writes it (`" 200 ` or `" 206 `). Each substring is searched once per chunk, not
 * once per line: the position of its next occurrence is remembered, so all lines before it are rejected with one
 * comparison. Only lines that contain both are parsed and run through the receipt rule.
 *
 * The method is left to the parser: nearly every line is a GET, so searching for `"GET ` cost more (one more search
 * per line) than the few HEAD and POST lines it kept from being parsed.
 *
 * The pre-filter must never drop a real hit: its needles are built from the compiled format's own literals and the
 * rule's {@link HitRule.requiredLiteral}, so every line the rule would accept contains them. `fullParse` turns
 * it off (every line parsed), which the tests use to check exactly that.
 *
 * Where most lines pass it anyway (a file server's log), its searches cost more than they save: `parseAll` then
 * locates every line and asks the pre-filter only about lines that do not parse. And a caller that writes bytes
 * (parse-log) can take hits as byte spans of the chunk (`rawHits`, decoded by hit-path-bytes.ts) instead of as
 * {@link LogHit} strings.
 */
import { compileLogFormat, type CompiledLogFormat, type LineFields } from './log-format';
import { NOT_A_HIT, HitPathDecoder } from './hit-path-bytes';
import { compileHitRule, hitOfLine, type LogHit, type HitRule } from './hit-rule';

export interface ScanOptions {
  /** Preset name or LogFormat string (default `combined`), or an already compiled format. */
  format?: string | CompiledLogFormat;
  /** File glob (default `*.pdf`) or an already compiled rule. */
  pattern?: string | HitRule;
  /** Called for every hit, in log order, with the absolute byte offset where its line starts. */
  onHit: (hit: LogHit, lineOffset: number) => void;
  /** How many unparseable candidate lines to keep as samples (default 10). */
  maxErrorSamples?: number;
  /** Absolute offset of the first byte that will be pushed, when resuming inside a file (default 0). */
  startOffset?: number;
  /**
   * The first this-many lines are parsed whether or not they pass the pre-filter, so a wrong `--format` shows up as
   * probe failures instead of as a silent "no hits" (default 1000).
   */
  probeLines?: number;
  /** Parse every line (no pre-filter). Slow; for tests and for checking the pre-filter. */
  fullParse?: boolean;
  /**
   * Where most lines pass the pre-filter anyway, as in the log of a file server (half the lines of the benchmark
   * log are hits), locate every line and ask the pre-filter only about the lines that do not parse (whether they
   * count as parse errors): its substring searches then cost more than parsing the few lines they reject. Chosen
   * piece by piece (64 KiB) from how many lines the previous piece had that would pass. The same hits and errors
   * as the pre-filtered scan; in such pieces `candidates` counts the lines that parsed.
   */
  parseAll?: boolean;
  /**
   * For writers that copy bytes instead of making strings: called instead of `onHit` for the hits whose path
   * {@link HitPathDecoder} decodes by itself (most of them), with that decoded path. Returning false (say, a
   * client name that needs escaping) hands the hit to `onHit` as a {@link LogHit} after all.
   */
  rawHits?: RawHitSink;
}

/**
 * `fields` is the located line, whose text is also at hand as bytes: text offset i at `bytes[bytesBase + i]`. `path`
 * holds the decoded path in [0, pathLength): printable ASCII without `"` and `\`, so it is its own JSON text. Read
 * what you need before returning: all of them are reused.
 */
export type RawHitSink = (fields: LineFields, bytes: Buffer, bytesBase: number, path: Uint8Array, pathLength: number) => boolean;

export interface ParseErrorSample {
  /** Absolute byte offset of the line. */
  offset: number;
  /** The line as latin1 text, cut at 500 chars. */
  line: string;
}

export interface ScanStats {
  /** Complete lines scanned. */
  lines: number;
  /**
   * Lines that passed the pre-filter (all lines with `fullParse`; with `parseAll`, in the pieces located line by
   * line, the lines that parsed), so were parsed and checked against the rule.
   */
  candidates: number;
  hits: number;
  /** Parsed lines (candidates, and probe lines) that do not have the format's shape. */
  parseErrors: number;
  errorSamples: ParseErrorSample[];
  /** Lines parsed by the probe at the start, and how many of those failed. */
  probedLines: number;
  probeFailures: number;
  /** Absolute offset just after the last complete line: where a later scan of the same file should resume. */
  resumeOffset: number;
  /** Bytes after resumeOffset that were seen but not scanned because their line has no newline yet. */
  pendingBytes: number;
}

/** Thrown when the format cannot show receipts at all (it logs no method or no status). */
export class UnsuitableLogFormatError extends Error {
  override readonly name = 'UnsuitableLogFormatError';
}

const NOT_FOUND = Number.MAX_SAFE_INTEGER;
// With parseAll: a pre-filtered piece where this share of lines passed makes the next piece dense, and a dense piece
// where this share of lines were hits keeps it so. Locating a line costs about as much as the pre-filter's searches
// do per line (both ~0.6 us on the benchmark machine), so dense pays once roughly a third of the lines would have
// been located anyway; hits are fewer than candidates, hence the lower bar to stay.
const DENSE_ENTER = 0.4;
const DENSE_STAY = 0.2;
const EMPTY = Buffer.alloc(0);
const SAMPLE_CHARS = 500;
const TEXT_PIECE = 64 * 1024;

/** One substring of the pre-filter, with the cached position of its next occurrence in the current chunk. */
interface Needle {
  readonly text: string;
  /** Set for case-insensitive needles: a global regex so `lastIndex` gives the position without allocation. */
  readonly re: RegExp | undefined;
  next: number;
}

/** A line passes a condition when it contains any one of its needles. */
type Condition = Needle[];

function needle(text: string): Needle {
  return { text, re: undefined, next: -1 };
}

function caseInsensitiveNeedle(text: string): Needle {
  return { text, re: new RegExp(text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'), 'gi'), next: -1 };
}

/** Builds the pre-filter for a format and rule; exported so tests can show which substrings it requires. */
export function prefilterConditions(format: CompiledLogFormat, rule: HitRule): string[][] {
  return buildConditions(format, rule).map((c) => c.map((n) => (n.re === undefined ? n.text : `${n.text} (any case)`)));
}

function buildConditions(format: CompiledLogFormat, rule: HitRule): Condition[] {
  const request = format.fieldContext(['request', 'method']);
  const status = format.fieldContext(['status']);
  if (request === undefined || status === undefined) {
    throw new UnsuitableLogFormatError(
      `The log format "${format.format}" does not log the ${request === undefined ? 'request method (%r or %m)' : 'status (%>s)'}, ` +
        `so it cannot show which files were fetched`,
    );
  }
  const conditions: Condition[] = [];
  // The file literal first: in a log full of pages, scripts and icons it rejects the most lines.
  if (rule.requiredLiteral !== undefined) {
    // `%` (percent-encoding) and `\` (a log escape) can spell any character of the literal, so they admit the line
    // too. The exact lower-case literal goes first: it is the usual spelling and a plain search is cheaper.
    const literal = rule.requiredLiteral;
    const alternatives = [needle(literal), needle('%'), needle('\\')];
    if (/[a-z]/.test(literal)) alternatives.push(caseInsensitiveNeedle(literal));
    conditions.push(alternatives);
  }
  // The parser insists on exactly three digits, so a 200 or 206 line always has these with the format's literals.
  conditions.push([needle(`${status.before}200${status.after}`), needle(`${status.before}206${status.after}`)]);
  return conditions;
}

/** Scans pushed chunks; a line split across chunks is carried over until its newline arrives. */
export class LogScanner {
  private readonly format: CompiledLogFormat;
  private readonly rule: HitRule;
  private readonly conditions: Condition[];
  private readonly onHit: ScanOptions['onHit'];
  private readonly maxErrorSamples: number;
  private readonly probeLines: number;
  private readonly fullParse: boolean;
  private readonly parseAll: boolean;
  /** With parseAll: whether the next piece is located line by line rather than pre-filtered. */
  private dense = false;
  private readonly rawHits: RawHitSink | undefined;
  private readonly decoder: HitPathDecoder | undefined;
  /** Absolute offset of the first byte not yet scanned (the start of `carry`). */
  private offset: number;
  private carry: Buffer = EMPTY;
  private readonly counts = { lines: 0, candidates: 0, hits: 0, parseErrors: 0, probedLines: 0, probeFailures: 0 };
  private readonly errorSamples: ParseErrorSample[] = [];

  constructor(options: ScanOptions) {
    const format = options.format ?? 'combined';
    this.format = typeof format === 'string' ? compileLogFormat(format) : format;
    const pattern = options.pattern;
    this.rule = pattern === undefined || typeof pattern === 'string' ? compileHitRule(pattern) : pattern;
    this.conditions = buildConditions(this.format, this.rule);
    this.onHit = options.onHit;
    this.maxErrorSamples = options.maxErrorSamples ?? 10;
    this.probeLines = options.probeLines ?? 1000;
    this.fullParse = options.fullParse ?? false;
    this.parseAll = (options.parseAll ?? false) && !this.fullParse;
    this.rawHits = options.rawHits;
    this.decoder = this.rawHits === undefined ? undefined : new HitPathDecoder(this.rule);
    this.offset = options.startOffset ?? 0;
  }

  /** Feeds the next bytes of the log. The chunk is not kept, so the caller may reuse its buffer. */
  push(chunk: Uint8Array): void {
    let buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (buf.length === 0) return;
    if (this.carry.length > 0) {
      const nl = buf.indexOf(10);
      if (nl < 0) {
        this.carry = Buffer.concat([this.carry, buf]);
        return;
      }
      const joined = Buffer.concat([this.carry, buf.subarray(0, nl + 1)]);
      this.carry = EMPTY;
      this.scanLines(joined, 0, joined.length);
      buf = buf.subarray(nl + 1);
    }
    const last = buf.lastIndexOf(10);
    // Decoded in small pieces rather than one string per read: a string of 1 MB or more becomes an external string
    // (slower to read and to slice), and one above 128 KiB a separate large-object allocation. 64 KiB pieces are
    // ordinary young-generation strings; with them a scan measured up to a quarter faster than with 8 MiB strings.
    for (let start = 0; start <= last; ) {
      let end = last + 1;
      if (end - start > TEXT_PIECE) {
        end = buf.lastIndexOf(10, start + TEXT_PIECE - 1) + 1;
        if (end <= start) end = buf.indexOf(10, start + TEXT_PIECE) + 1; // one line longer than a piece
      }
      this.scanLines(buf, start, end);
      start = end;
    }
    if (last + 1 < buf.length) this.carry = Buffer.from(buf.subarray(last + 1)); // copy: the caller reuses buf
  }

  /** Current totals; an unfinished last line is reported as pending, not scanned. */
  stats(): ScanStats {
    return {
      ...this.counts,
      errorSamples: [...this.errorSamples],
      resumeOffset: this.offset,
      pendingBytes: this.carry.length,
    };
  }

  /** Scans buf[start, end), which must end with a newline. */
  private scanLines(buf: Buffer, start: number, end: number): void {
    const text = buf.toString('latin1', start, end);
    if (this.parseAll) {
      // Both ways find the same; which is cheaper depends on how many lines pass the pre-filter, so each piece goes
      // the way the previous one suggests (see DENSE_* below).
      const counts = this.counts;
      const lines = counts.lines;
      if (this.dense) {
        const hits = counts.hits;
        this.parseEveryLine(text, buf, start);
        this.dense = (counts.hits - hits) >= DENSE_STAY * (counts.lines - lines);
      } else {
        const candidates = counts.candidates;
        this.prefilterLines(text, buf, start);
        this.dense = (counts.candidates - candidates) >= DENSE_ENTER * (counts.lines - lines);
      }
      return;
    }
    this.prefilterLines(text, buf, start);
  }

  /** The pre-filtered scan of one piece of text, buf[start...] as latin1. */
  private prefilterLines(text: string, buf: Buffer, start: number): void {
    const base = this.offset;
    const conditions = this.conditions;
    for (const condition of conditions) for (const n of condition) n.next = -1;
    const fullParse = this.fullParse;
    const counts = this.counts;
    let lines = counts.lines;
    let probeLeft = this.probeLines - counts.probedLines;
    let pos = 0;
    const n = text.length;
    while (pos < n) {
      const eol = text.indexOf('\n', pos);
      lines++;
      let candidate = true;
      if (!fullParse) {
        for (let c = 0; c < conditions.length && candidate; c++) {
          const alternatives = conditions[c]!;
          candidate = false;
          for (let a = 0; a < alternatives.length; a++) {
            const nd = alternatives[a]!;
            if (nd.next < pos) nd.next = findFrom(text, nd, pos);
            if (nd.next < eol) {
              candidate = true;
              break;
            }
          }
        }
      }
      if (candidate || probeLeft > 0) {
        this.examine(text, buf, start, pos, eol, base + pos, candidate, probeLeft > 0);
        if (probeLeft > 0) probeLeft--;
      }
      pos = eol + 1;
    }
    counts.lines = lines;
    this.offset = base + n;
  }

  /**
   * The `parseAll` scan: every line is located; the pre-filter is asked only about lines that do not parse, since
   * only those it decides about (a candidate that does not parse is a parse error, any other line is ignored).
   */
  private parseEveryLine(text: string, bytes: Buffer, bytesBase: number): void {
    const base = this.offset;
    const counts = this.counts;
    const format = this.format;
    const probeLines = this.probeLines;
    const n = text.length;
    for (let pos = 0; pos < n; ) {
      const eol = text.indexOf('\n', pos);
      counts.lines++;
      const probe = counts.probedLines < probeLines;
      if (probe) counts.probedLines++;
      const fields = format.locateIn(text, pos, eol);
      if (fields === null) {
        if (probe || lineIsCandidate(this.conditions, text, pos, eol)) this.parseError(text, pos, eol, base + pos, probe);
      } else {
        counts.candidates++;
        this.checkHit(fields, bytes, bytesBase, base + pos);
      }
      pos = eol + 1;
    }
    this.offset = base + n;
  }

  private parseError(text: string, from: number, to: number, lineOffset: number, probe: boolean): void {
    const counts = this.counts;
    if (probe) counts.probeFailures++;
    counts.parseErrors++;
    if (this.errorSamples.length < this.maxErrorSamples) {
      this.errorSamples.push({ offset: lineOffset, line: text.slice(from, Math.min(to, from + SAMPLE_CHARS)) });
    }
  }

  /** `bytes` holds the text `fields` point into, text offset i at `bytesBase + i`. */
  private checkHit(fields: LineFields, bytes: Buffer, bytesBase: number, lineOffset: number): void {
    const counts = this.counts;
    const rawHits = this.rawHits;
    if (rawHits !== undefined && this.decoder !== undefined) {
      const verdict = this.decoder.verdictOfLine(fields, bytes, bytesBase);
      if (verdict === NOT_A_HIT) return;
      if (verdict >= 0 && rawHits(fields, bytes, bytesBase, this.decoder.path, verdict)) {
        counts.hits++;
        return;
      }
    }
    const hit = hitOfLine(fields, this.rule);
    if (hit !== null) {
      counts.hits++;
      this.onHit(hit, lineOffset);
    }
  }

  private examine(
    text: string,
    bytes: Buffer,
    bytesBase: number,
    from: number,
    to: number,
    lineOffset: number,
    candidate: boolean,
    probe: boolean,
  ): void {
    const counts = this.counts;
    // Located in place: cutting each line out of the chunk first cost a copy per candidate.
    const fields = this.format.locateIn(text, from, to);
    if (probe) counts.probedLines++;
    if (candidate) counts.candidates++;
    if (fields === null) {
      this.parseError(text, from, to, lineOffset, probe);
      return;
    }
    if (candidate) this.checkHit(fields, bytes, bytesBase, lineOffset);
  }
}

/** The pre-filter's verdict for one line, text[from, to): each condition has a needle in it. */
function lineIsCandidate(conditions: readonly Condition[], text: string, from: number, to: number): boolean {
  for (const alternatives of conditions) {
    let found = false;
    for (const nd of alternatives) {
      if (findFrom(text, nd, from) < to) {
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}

function findFrom(text: string, nd: Needle, from: number): number {
  if (nd.re === undefined) {
    const i = text.indexOf(nd.text, from);
    return i < 0 ? NOT_FOUND : i;
  }
  nd.re.lastIndex = from;
  return nd.re.test(text) ? nd.re.lastIndex - nd.text.length : NOT_FOUND;
}

/** Scans a whole buffer; a last line without newline is left pending (see {@link ScanStats.resumeOffset}). */
export function scanBuffer(buf: Uint8Array, options: ScanOptions): ScanStats {
  const scanner = new LogScanner(options);
  scanner.push(buf);
  return scanner.stats();
}

/** Scans a stream of chunks, e.g. `fs.createReadStream(path, { start: resumeOffset })` with `startOffset` set. */
export async function scanStream(source: AsyncIterable<Uint8Array>, options: ScanOptions): Promise<ScanStats> {
  const scanner = new LogScanner(options);
  for await (const chunk of source) scanner.push(chunk);
  return scanner.stats();
}
