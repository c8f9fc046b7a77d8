import { defineEntity, type InferEntity } from '@mikro-orm/core';
import { User } from './user';

/**
 * A signed-in browser. The cookie holds a random token; only its SHA-256 is stored, so a leaked table (or backup)
 * cannot be replayed as a login.
 */
export const WebSession = defineEntity({
  name: 'WebSession',
  tableName: 'web_session',
  properties: (p) => ({
    /** Hex SHA-256 of the cookie token. */
    tokenHash: p.string().length(64).primary(),
    /**
     * The user's id (mapped to the key, not loaded as an entity). A foreign key, as 0002 made it, under PostgreSQL's
     * name for it: a deleted user's sessions go with it.
     */
    userId: p
      .manyToOne(User)
      .mapToPk()
      .fieldName('user_id')
      .foreignKeyName('web_session_user_id_fkey')
      .deleteRule('cascade')
      .updateRule('no action')
      .index(),
    createdAt: p.datetime().onCreate(() => new Date()),
    expiresAt: p.datetime().index(),
    /** The last request seen with this session, within a minute: after GETRESULTS_SESSION_IDLE_MINUTES without one it ends. */
    lastSeenAt: p.datetime(),
    ip: p.string().length(64).nullable(),
  }),
});

export type IWebSession = InferEntity<typeof WebSession>;

/**
 * One refused login. Counted per (username, IP) over a window to slow password guessing; kept in the database so the
 * limit holds across restarts and across several web processes, and doubles as a record of attempts.
 */
export const LoginFailure = defineEntity({
  name: 'LoginFailure',
  tableName: 'login_failure',
  properties: (p) => ({
    id: p.bigint('number').primary().autoincrement(),
    username: p.string().length(64),
    ip: p.string().length(64),
    at: p.datetime(),
  }),
  indexes: [{ properties: ['username', 'ip', 'at'] }],
});

export type ILoginFailure = InferEntity<typeof LoginFailure>;
