import type { EntityManager } from '@mikro-orm/postgresql';
import { User } from '../../db/entities';
import type { IUser, UserRole } from '../../db/entities/user';
import { hashPassword, normaliseUsername, passwordProblem, usernameProblem, verifyAgainstDummy, verifyPassword } from './passwords';
import { endAllSessionsOf } from './sessions';
import { DEFAULT_LAB, labIdByName } from '../../labs/upload-hosts';

/** User management shared by the CLI and the web page, so both apply the same rules. */
/**
 * `labName`: the lab whose files the user sees. A technician always has one (default: the lab `default`); an admin
 * without one administers the whole deployment and sees every lab's files.
 */
export async function addUser(em: EntityManager, rawUsername: string, password: string, role: UserRole, labName?: string): Promise<IUser> {
  const username = normaliseUsername(rawUsername);
  const problem = usernameProblem(username) ?? passwordProblem(password);
  if (problem) throw new Error(problem);
  if (await em.count(User, { username })) throw new Error(`A user named ${username} already exists; use "getresults users passwd ${username}".`);
  const labWanted = labName ?? (role === 'technician' ? DEFAULT_LAB : undefined);
  const labId = labWanted === undefined ? null : await labIdByName(em, labWanted);
  if (labId === undefined) throw new Error(`There is no lab "${labWanted}" (getresults labs list shows them).`);
  const user = em.create(User, { username, passwordHash: await hashPassword(password), role, disabled: false, labId });
  await em.flush();
  return user;
}

/** Sets a new password and signs the user out everywhere: whoever knew the old one loses their session too. */
export async function setPassword(em: EntityManager, rawUsername: string, password: string): Promise<IUser> {
  const problem = passwordProblem(password);
  if (problem) throw new Error(problem);
  const user = await findUserOrFail(em, rawUsername);
  user.passwordHash = await hashPassword(password);
  user.passwordChangedAt = new Date();
  await em.flush();
  await endAllSessionsOf(em, user.id);
  return user;
}

export async function setDisabled(em: EntityManager, rawUsername: string, disabled: boolean): Promise<IUser> {
  const user = await findUserOrFail(em, rawUsername);
  user.disabled = disabled;
  await em.flush();
  if (disabled) await endAllSessionsOf(em, user.id);
  return user;
}

async function findUserOrFail(em: EntityManager, rawUsername: string): Promise<IUser> {
  const username = normaliseUsername(rawUsername);
  const user = await em.findOne(User, { username });
  if (!user) throw new Error(`There is no user named ${username}.`);
  return user;
}

/** The user when the password is right and the account enabled; otherwise undefined, taking the same time. */
export async function authenticate(em: EntityManager, rawUsername: string, password: string): Promise<IUser | undefined> {
  const username = normaliseUsername(rawUsername);
  const user = usernameProblem(username) ? null : await em.findOne(User, { username });
  if (!user) return verifyAgainstDummy(password).then(() => undefined);
  const ok = await verifyPassword(password, user.passwordHash);
  return ok && !user.disabled ? user : undefined;
}
