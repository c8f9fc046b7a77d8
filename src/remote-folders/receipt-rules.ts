/** The stored receipt rules of clinic folders (folder_receipt_rule): read, compiled for matching, and set. */
import type { EntityManager } from '@mikro-orm/postgresql';
import { ClinicRule, NO_RULE, type ReceiptRuleLists } from './clinic-rule';
import { FolderReceiptRule } from './entities';

/** The stored rules, by clinic folder (`base_path/folder`); folders without a rule are absent. */
export async function receiptRulesByFolder(em: EntityManager, clinicFolders?: readonly string[]): Promise<Map<string, ReceiptRuleLists>> {
  if (clinicFolders && !clinicFolders.length) return new Map();
  const rows = await em.find(FolderReceiptRule, clinicFolders ? { clinicFolder: { $in: [...clinicFolders] } } : {});
  return new Map(rows.map((r) => [r.clinicFolder, { allowedClients: r.allowedClients, allowedUsers: r.allowedUsers }]));
}

/** The rules of these folders compiled for matching; a folder without a rule gets an inactive one. */
export async function compiledRules(em: EntityManager, clinicFolders: readonly string[]): Promise<Map<string, ClinicRule>> {
  const stored = await receiptRulesByFolder(em, clinicFolders);
  return new Map(clinicFolders.map((f) => [f, new ClinicRule(f, stored.get(f) ?? NO_RULE)]));
}

function sameLists(a: ReceiptRuleLists, b: ReceiptRuleLists): boolean {
  const eq = (x: readonly string[], y: readonly string[]) => x.length === y.length && x.every((v, i) => v === y[i]);
  return eq(a.allowedClients, b.allowedClients) && eq(a.allowedUsers, b.allowedUsers);
}

/**
 * Sets (or, with two empty lists, removes) a folder's rule. The lists must already be checked (parseAllowedClients,
 * parseAllowedUsers). Returns whether anything changed.
 */
export async function setReceiptRule(em: EntityManager, clinicFolder: string, lists: ReceiptRuleLists, actor: string | null): Promise<boolean> {
  const current = await em.findOne(FolderReceiptRule, { clinicFolder });
  const empty = !lists.allowedClients.length && !lists.allowedUsers.length;
  if (!current) {
    if (empty) return false;
    em.create(FolderReceiptRule, { clinicFolder, allowedClients: [...lists.allowedClients], allowedUsers: [...lists.allowedUsers], updatedBy: actor });
  } else if (empty) {
    em.remove(current);
  } else if (sameLists(current, lists)) {
    return false;
  } else {
    em.assign(current, { allowedClients: [...lists.allowedClients], allowedUsers: [...lists.allowedUsers], updatedBy: actor });
  }
  await em.flush();
  return true;
}
