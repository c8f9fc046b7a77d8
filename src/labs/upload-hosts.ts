import type { EntityManager } from '@mikro-orm/postgresql';
import { Lab, UploadHost } from '../db/entities';

/** The lab `default`: what a single-lab installation has, and where migration 0011 put today's data. */
export const DEFAULT_LAB = 'default';

/** The upload host a process serves, as its files record it. */
export interface FileHost {
  name: string;
  labId: number;
}

/** A refusal an operator must act on (wrong lab setting, unknown lab): said in words, never retried. */
export class HostRegistrationRefused extends Error {
  override name = 'HostRegistrationRefused';
}

/**
 * Registers this process's upload host in its lab, or checks that it is registered there: a host's files belong to
 * its lab, so a host cannot silently change lab (its files would move with it). Called by every process that holds
 * files (watcher, worker, `start`) before it touches one.
 */
export async function registerUploadHost(em: EntityManager, hostId: string, labName: string): Promise<FileHost> {
  const lab = await em.findOne(Lab, { name: labName });
  if (!lab) {
    throw new HostRegistrationRefused(
      `GETRESULTS_LAB names the lab "${labName}", which this deployment does not have. Create it first: getresults labs add ${labName} --title "..."`,
    );
  }
  const host = await em.findOne(UploadHost, { name: hostId });
  if (host && host.labId !== lab.id) {
    const owner = await em.findOne(Lab, { id: host.labId });
    throw new HostRegistrationRefused(
      `The upload host "${hostId}" belongs to the lab "${owner?.name ?? host.labId}", not "${labName}": its files stay with that lab. ` +
        `Set GETRESULTS_LAB=${owner?.name ?? ''} again, or give this machine a new GETRESULTS_HOST_ID.`,
    );
  }
  if (host) host.lastStartedAt = new Date();
  else em.create(UploadHost, { name: hostId, labId: lab.id });
  await em.flush();
  return { name: hostId, labId: lab.id };
}

/**
 * Another registered host, as the web page's upload target (GETRESULTS_WEB_UPLOAD_HOST): it must have started once
 * (its worker registers it) and not be retired.
 */
export async function registeredUploadHost(em: EntityManager, name: string): Promise<FileHost> {
  const host = await em.findOne(UploadHost, { name });
  if (!host) {
    throw new HostRegistrationRefused(
      `GETRESULTS_WEB_UPLOAD_HOST names the upload host "${name}", which has never started here. Start its worker first (it registers the host), then this page.`,
    );
  }
  if (host.retiredAt) throw new HostRegistrationRefused(`GETRESULTS_WEB_UPLOAD_HOST names the upload host "${name}", which was retired: name a host that takes files.`);
  return { name: host.name, labId: host.labId };
}

/** Creates a lab; `foldersOf` names a lab whose remote-folder table it shares instead of keeping its own. */
export async function createLab(em: EntityManager, input: { name: string; title: string; foldersOf?: string }): Promise<void> {
  if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(input.name)) {
    throw new HostRegistrationRefused(`A lab's name is lower-case letters, digits and dashes (at most 64), like "gaborone-central"; "${input.name}" is not.`);
  }
  if (await em.findOne(Lab, { name: input.name })) throw new HostRegistrationRefused(`There is a lab "${input.name}" already.`);
  let foldersOfLabId: number | null = null;
  if (input.foldersOf) {
    const shared = await em.findOne(Lab, { name: input.foldersOf });
    if (!shared) throw new HostRegistrationRefused(`There is no lab "${input.foldersOf}" whose folder table could be shared.`);
    foldersOfLabId = shared.foldersOfLabId ?? shared.id;
  }
  em.create(Lab, { name: input.name, title: input.title, foldersOfLabId });
  await em.flush();
}

export interface LabWithHosts {
  name: string;
  title: string;
  foldersOf?: string;
  hosts: Array<{ name: string; lastStartedAt: Date; retiredAt: Date | null }>;
}

export async function listLabs(em: EntityManager): Promise<LabWithHosts[]> {
  const [labs, hosts] = await Promise.all([em.find(Lab, {}, { orderBy: { name: 'asc' } }), em.find(UploadHost, {}, { orderBy: { name: 'asc' } })]);
  return labs.map((lab) => ({
    name: lab.name,
    title: lab.title,
    foldersOf: labs.find((l) => l.id === lab.foldersOfLabId)?.name,
    hosts: hosts.filter((h) => h.labId === lab.id).map((h) => ({ name: h.name, lastStartedAt: h.lastStartedAt, retiredAt: h.retiredAt ?? null })),
  }));
}

/** The id of a lab by name, for a user or a command; undefined when there is none. */
export async function labIdByName(em: EntityManager, name: string): Promise<number | undefined> {
  return (await em.findOne(Lab, { name }))?.id;
}

/**
 * The lab whose remote-folder table `labId` uses: its own, or the one it shares (lab.folders_of_lab_id). Without a
 * lab (an admin of the whole deployment), the lab `default`'s.
 */
export async function folderTableLabId(em: EntityManager, labId: number | null | undefined): Promise<number> {
  const lab = labId == null ? await em.findOne(Lab, { name: DEFAULT_LAB }) : await em.findOne(Lab, { id: labId });
  if (!lab) throw new Error(labId == null ? 'The lab "default" is missing: run getresults migrate.' : `There is no lab ${labId}.`);
  return lab.foldersOfLabId ?? lab.id;
}

/**
 * Whether the deployment serves more than one lab. Some views are safe for every user of a single lab but show data of
 * every lab (payloads through /codec, fetches of paths we sent nothing to): with several labs, only deployment admins.
 */
export async function deploymentHasSeveralLabs(em: EntityManager): Promise<boolean> {
  return (await em.count(Lab, {})) > 1;
}
