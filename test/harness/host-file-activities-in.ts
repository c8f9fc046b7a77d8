import path from 'node:path';
import { createHostFileActivities, type HostFileActivities } from '../../src/activities/host-file-activities';
import { SEED_PATTERNS } from '../../src/config/patterns';
import { IdentifierPatterns } from '../../src/domain/identifier-patterns';
import { LocalDestination } from '../../src/transfer/local-destination';

/**
 * The real file activities over a folder tree of a test's own: `dir`/upload is the upload folder, `dir`/server-b the
 * clinics' side (a local destination), and archive/, rejected/, duplicates/ beside them; the seed patterns, 1 MiB limit.
 */
export function fileActivitiesIn(dir: string): HostFileActivities {
  return createHostFileActivities({
    uploadDir: path.join(dir, 'upload'),
    patterns: new IdentifierPatterns(SEED_PATTERNS),
    destination: new LocalDestination(path.join(dir, 'server-b')),
    maxFileBytes: 1 << 20,
    archiveDir: path.join(dir, 'archive'),
    rejectedDir: path.join(dir, 'rejected'),
    duplicatesDir: path.join(dir, 'duplicates'),
  });
}
