import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { failureConverterPath } from '../temporal/data-converter';

/** Where the build leaves the pre-bundled workflow code; the worker falls back to bundling at start when it is missing. */
export const WORKFLOW_BUNDLE_PATH = path.join(__dirname, '..', 'workflow-bundle.js');

/** Run by `npm run build`: bundling once at build time saves every worker start a second or two. */
async function main(): Promise<void> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    // Workflow failures are built inside the sandbox: they need our converter too, or their messages are stored in clear.
    failureConverterPath: failureConverterPath(),
    logger: undefined,
  });
  writeFileSync(WORKFLOW_BUNDLE_PATH, code);
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`${(err as Error).stack}\n`);
    process.exit(1);
  });
}
