import type { Context } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';

/**
 * Heartbeats every `intervalMs` while any activity of the worker runs, so an activity whose worker died (SIGKILL, crash,
 * power loss) is retried elsewhere after its short heartbeat timeout instead of after its whole start-to-close timeout.
 * Activities named in `except` (transfers) heartbeat their own progress: a stalled transfer must still time out.
 */
export function autoHeartbeat(options: { except: string[]; intervalMs?: number }): ActivityInterceptorsFactory {
  const intervalMs = options.intervalMs ?? 2_000;
  return (ctx: Context) => ({
    inbound: {
      async execute(input, next) {
        // A local activity has no heartbeat of its own: its workflow task times out instead when its worker dies.
        if (ctx.info.isLocal || options.except.includes(ctx.info.activityType)) return next(input);
        const timer = setInterval(() => ctx.heartbeat(), intervalMs);
        try {
          return await next(input);
        } finally {
          clearInterval(timer);
        }
      },
    },
  });
}
