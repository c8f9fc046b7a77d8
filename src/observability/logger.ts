/**
 * The process's one logger (issue 14), through pino. Long-running production processes (worker, watch, web) write
 * JSON lines for a log collector (GETRESULTS_LOG_FORMAT=json, their default): `{"level":30,"time":...,"process":
 * "worker","msg":...}` plus the fields that tie a line to its work, a `workflowId` or a web `requestId`. `start` and
 * the one-shot commands write the same events as `TIME message` text for a person at a terminal.
 *
 * What goes in: ids (workflow, run, request), counts, states, route patterns, error kinds. Never a file name, an
 * identifier, a clinic folder or a path of an upload: those stay in the database and, encrypted, in Temporal
 * (test/e2e/patient-data.test.ts greps every process log for them).
 *
 * The logger is set once, when a command starts (useLogFormat), and read by whatever logs: a process-wide
 * singleton on purpose, as loggers are, so that no function needs a logger parameter to say one line.
 */
import { pino, type Logger } from 'pino';

export type { Logger };
export type LogFormat = 'json' | 'text';

/** `TIME message key=value ...` from pino's JSON line, for a terminal. */
function textLine(json: string): string {
  const { time, msg, level: _level, process: _process, pid: _pid, hostname: _hostname, ...fields } = JSON.parse(json) as Record<string, unknown>;
  const extra = Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${new Date(Number(time)).toISOString()} ${String(msg)}${extra ? ` (${extra})` : ''}\n`;
}

export function createLogger(options: { process: string; format: LogFormat; destination?: NodeJS.WritableStream }): Logger {
  const out = options.destination ?? process.stdout;
  const stream = options.format === 'json' ? out : { write: (line: string) => out.write(textLine(line)) };
  return pino({ base: { process: options.process }, timestamp: pino.stdTimeFunctions.epochTime, messageKey: 'msg' }, stream);
}

let current: Logger = createLogger({ process: 'getresults', format: 'text' });

/** Sets the process's log format; called once by each command before it logs. */
export function useLogFormat(processName: string, format: LogFormat): Logger {
  current = createLogger({ process: processName, format });
  return current;
}

/** The process's logger. */
export function logger(): Logger {
  return current;
}
