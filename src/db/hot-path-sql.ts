import { Pool, type PoolClient, type QueryResult } from 'pg';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';

/** Runs one statement: `?` placeholders, the rows back. Both an EntityManager and a HotPathSql transaction are one. */
export interface SqlExecutor {
  execute<T = Array<Record<string, unknown>>>(sql: string, params?: unknown[]): Promise<T>;
}

/** An EntityManager as a SqlExecutor (inside its transaction, when it has one). */
export function executorOf(em: EntityManager): SqlExecutor & { isInTransaction(): boolean } {
  return {
    // em.execute types its rows as entity data; these statements are ours, and their callers say what they return.
    execute: <T>(sql: string, params?: unknown[]) => em.execute(sql, params) as Promise<unknown> as Promise<T>,
    isInTransaction: () => em.isInTransaction(),
  };
}

/**
 * The per-file ledger writes (FileLedger.register and .transitions, from the workflows' local activities) on a pool of
 * their own, through the `pg` driver directly:
 * - MikroORM's `em.execute` formats every parameter into the SQL text and goes through knex's transaction machinery;
 *   measured, that was about a sixth of the main thread's time per file. Here parameters travel as bind values.
 * - The web page's queries keep the ORM's pool to themselves, so a drain of thousands of files does not queue them.
 *
 * Only statements written for it run here: `?` placeholders (none inside string literals) and scalar, Date or
 * JSON-string values, as the ledger's SQL has them.
 */
export class HotPathSql {
  private readonly pool: Pool;

  constructor(databaseUrl: string, max = 6) {
    this.pool = new Pool({ connectionString: databaseUrl, max });
    // A connection cut while idle (PostgreSQL restarted, a backend terminated) must not crash the process: the pool
    // drops it and the next caller gets a new one.
    this.pool.on('error', () => undefined);
  }

  static forOrm(orm: MikroORM, max?: number): HotPathSql {
    return new HotPathSql(orm.config.get('clientUrl') as string, max);
  }

  /** BEGIN ... COMMIT on one connection; ROLLBACK and the error when `work` fails. */
  async transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    // A checked-out client whose connection fails (a terminated backend, PostgreSQL restarting) emits 'error'; the pool
    // listens only while the client is idle, and an 'error' nobody listens to ends the process. The statement under way
    // fails on its own; the connection is then destroyed below rather than returned.
    const onError = (err: Error) => {
      broken = err;
    };
    client.on('error', onError);
    try {
      // BEGIN waits to travel with the first statement when that one has no parameters (the audit chain's lock):
      // one round trip for both.
      let begun = false;
      const result = await work({
        execute: async (sql, params) => {
          if (!begun) {
            begun = true;
            if (!params?.length) return runAfterBegin(client, sql);
            await client.query('begin');
          }
          return run(client, sql, params);
        },
      });
      if (begun) await client.query('commit');
      return result;
    } catch (err) {
      await client.query('rollback').catch((rollbackError: Error) => {
        broken = rollbackError;
      });
      throw err;
    } finally {
      client.off('error', onError);
      // A connection that failed, or whose rollback did, is in an unknown state: destroyed, not returned to the pool.
      client.release(broken);
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

async function run<T>(client: PoolClient, sql: string, params: unknown[] = []): Promise<T> {
  let n = 0;
  const text = sql.replace(/\?/g, () => `$${++n}`);
  if (n !== params.length) throw new Error(`The statement has ${n} placeholders and ${params.length} values.`);
  const result = await client.query(text, params);
  return result.rows as T;
}

/** `begin; <sql>` as one simple query (no parameters): node-pg answers a multi-statement query with a result per statement. */
async function runAfterBegin<T>(client: PoolClient, sql: string): Promise<T> {
  const results: unknown = await client.query(`begin; ${sql}`);
  const last = Array.isArray(results) ? (results[results.length - 1] as QueryResult) : (results as QueryResult);
  return last.rows as T;
}
