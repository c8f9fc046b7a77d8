import { defineEntity, type InferEntity } from '@mikro-orm/core';

export const USER_ROLES = ['technician', 'admin'] as const;
export type UserRole = (typeof USER_ROLES)[number];

/**
 * A person who may use the web page. `passwordHash` is a self-describing scrypt string (algorithm, cost parameters,
 * per-user salt, hash), so the cost can be raised later without a schema change: old hashes still verify.
 * The table is `app_user` because `user` is reserved in PostgreSQL.
 */
export const User = defineEntity({
  name: 'User',
  tableName: 'app_user',
  properties: (p) => ({
    id: p.integer().primary().autoincrement(),
    /** Stored lower-case: logins are case-insensitive, so "Anna" and "anna" cannot be two accounts. */
    username: p.string().length(64).unique(),
    passwordHash: p.text(),
    role: p.enum([...USER_ROLES]).default('technician'),
    disabled: p.boolean().default(false),
    createdAt: p.datetime().onCreate(() => new Date()),
    passwordChangedAt: p.datetime().onCreate(() => new Date()),
    /** The lab whose files the user sees and acts on; null only for an admin of the whole deployment (0011). */
    labId: p.integer().nullable().index(),
  }),
});

export type IUser = InferEntity<typeof User>;
