/**
 * A compile-time check, imported by nothing: WORKFLOW_TYPES (names.ts) names every workflow the bundle exports
 * (index.ts) by its own name, and nothing else, so a renamed or added workflow fails to compile. It lives here rather
 * than in names.ts, which workflow code, activities and clients all import, so that names.ts imports nothing.
 */
import type * as workflows from './index';
import type { WORKFLOW_TYPES } from './names';

type Exported = keyof typeof workflows;
type Named = keyof typeof WORKFLOW_TYPES;
type SameKeys = [Exported] extends [Named] ? ([Named] extends [Exported] ? true : false) : false;
type ByOwnName = typeof WORKFLOW_TYPES extends { readonly [Name in Exported]: Name } ? true : false;

// Each fails to compile (true is not false) when the check does not hold.
export const everyWorkflowNamedOnce: SameKeys = true;
export const eachByItsOwnName: ByOwnName = true;
