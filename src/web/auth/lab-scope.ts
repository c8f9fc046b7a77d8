import type { Context } from 'hono';
import { folderTableLabId } from '../../labs/upload-hosts';
import { signedIn, type BaseEnv } from '../context';

/**
 * Which lab's files the signed-in user may see and act on (issue 13): their lab's, or every lab's (undefined) for an
 * admin of the whole deployment. Every route that reads or changes a file, a folder row or an upload asks this; a file
 * of another lab is then answered as if it did not exist (404), so its id reveals nothing.
 */
export function labScopeOf(c: Context<BaseEnv>): number | undefined {
  const { user } = signedIn(c);
  return user.labId ?? undefined;
}

/** An entity filter of the scope: `{ labId }` for one lab, nothing for every lab. Spread into a where-object. */
export function inLabScope(labId: number | undefined): { labId?: number } {
  return labId === undefined ? {} : { labId };
}

/** The remote-folder table the signed-in admin edits: their lab's (or the one it shares); `default`'s for a deployment admin. */
export function folderTableOf(c: Context<BaseEnv>): Promise<number> {
  return folderTableLabId(c.get('em'), signedIn(c).user.labId);
}
