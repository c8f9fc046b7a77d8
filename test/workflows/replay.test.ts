import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, Worker, type ReplayResult, type WorkflowBundle } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { failureConverterPath } from '../../src/temporal/data-converter';
import { WORKFLOW_TYPES } from '../../src/workflows/names';
import { bundleWorkflows, HISTORIES_DIR, quietSdkLogs, testDataConverter } from './workflow-env';

jest.setTimeout(120_000);

interface RecordedHistory {
  /** `v1/distribute-file-acknowledged`: the version folder and the scenario. */
  name: string;
  workflowType: string;
  history: ReturnType<typeof historyFromJSON>;
}

/** Every history in test/histories/<version>/, oldest version first: each must replay against today's code. */
function recordedHistories(): RecordedHistory[] {
  const found: RecordedHistory[] = [];
  for (const version of readdirSync(HISTORIES_DIR).sort()) {
    for (const file of readdirSync(path.join(HISTORIES_DIR, version)).filter((f) => f.endsWith('.json')).sort()) {
      const history = historyFromJSON(JSON.parse(readFileSync(path.join(HISTORIES_DIR, version, file), 'utf8')));
      const workflowType = history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? 'unknown';
      found.push({ name: `${version}/${file.replace(/\.json$/, '')}`, workflowType, history });
    }
  }
  return found;
}

async function replay(bundle: WorkflowBundle, histories: RecordedHistory[]): Promise<Map<string, ReplayResult>> {
  const results = new Map<string, ReplayResult>();
  const input = histories.map((h) => ({ workflowId: h.name, history: h.history }));
  for await (const result of Worker.runReplayHistories({ workflowBundle: bundle, dataConverter: testDataConverter }, input)) {
    results.set(result.workflowId, result);
  }
  return results;
}

const histories = recordedHistories();

describe('recorded workflow histories replay against the current workflow code', () => {
  let bundle: WorkflowBundle;
  beforeAll(async () => {
    quietSdkLogs();
    bundle = await bundleWorkflows();
  });

  test('the corpus covers every workflow type the worker serves, and each file workflow caught waiting', () => {
    expect(new Set(histories.map((h) => h.workflowType))).toEqual(new Set(Object.values(WORKFLOW_TYPES)));
    const names = histories.map((h) => h.name.split('/')[1]);
    for (const prefix of ['distribute-file', 'distribute-file-v2', 'distribute-file-v4']) {
      expect(names).toEqual(expect.arrayContaining([`${prefix}-waiting-for-ack`, `${prefix}-waiting-for-folder`, `${prefix}-waiting-transfer-blocked`]));
    }
  });

  test('every history replays without a determinism error', async () => {
    const results = await replay(bundle, histories);
    const failures = [...results.values()].filter((r) => r.error).map((r) => `${r.workflowId}: ${(r.error as Error).message}`);
    expect(failures).toEqual([]);
    expect(results.size).toBe(histories.length);
  });

  test('replay catches a change that is not deterministic (a reordered file workflow)', async () => {
    const { code } = await bundleWorkflowCode({
      workflowsPath: require.resolve('./fixtures/reordered-distribute-file'),
      failureConverterPath: failureConverterPath(),
      logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} },
    });
    const distributeHistories = histories.filter((h) => h.workflowType.startsWith('distributeFile'));
    const results = await replay({ code }, distributeHistories);
    expect(distributeHistories.length).toBeGreaterThan(0);
    for (const h of distributeHistories) {
      expect(results.get(h.name)?.error).toBeInstanceOf(DeterminismViolationError);
    }
  });
});
