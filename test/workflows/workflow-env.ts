import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker, type WorkflowBundle } from '@temporalio/worker';
import { failureConverterPath } from '../../src/temporal/data-converter';
import { startTestTemporal, type TestTemporal } from '../harness/temporal';
import type { FakeActivities } from './fake-activities';

/** Where recorded histories live; each workflow version adds a folder (docs/workflow-versioning.md). */
export const HISTORIES_DIR = path.join(__dirname, '..', 'histories');

/**
 * Set GETRESULTS_RECORD_HISTORIES to a version folder name (e.g. `v1`) to have the workflow tests write the history of
 * every scenario marked for recording into test/histories/<version>/ (`npm run record-histories`).
 */
const recordInto = process.env.GETRESULTS_RECORD_HISTORIES;

/**
 * What production uses minus the payload codec: the failure converter still moves messages into encoded attributes
 * (so the sandbox runs the same code), but recorded histories stay readable and hold no key.
 */
export const testDataConverter: DataConverter = { failureConverterPath: failureConverterPath() };

/** The workflow code as the worker runs it, bundled from src/ once per test file. */
export async function bundleWorkflows(): Promise<WorkflowBundle> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../src/workflows'),
    failureConverterPath: failureConverterPath(),
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} },
  });
  return { code };
}

/** Worker start and stop at INFO, and the activity failures the tests provoke on purpose (WARN), would bury a real failure's output. */
export function quietSdkLogs(): void {
  try {
    // Core's own log stays at ERROR: the replay test's deliberate determinism failures would print pages of WARN.
    Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: 'ERROR', forward: {} } } });
  } catch {
    // Already installed by an earlier test file in this process: its logger stays.
  }
}

export interface WorkflowTestEnv {
  client: Client;
  /** A worker on a fresh task queue serving the workflows with `fakes`, for as long as `body` runs. */
  withWorker<T>(fakes: FakeActivities, body: (taskQueue: string) => Promise<T>): Promise<T>;
  /** A unique workflow ID, so tests never meet each other's runs. */
  workflowId(prefix: string): string;
  /** Writes the run's history into the replay corpus when recording is on (see `recordInto`); otherwise nothing. */
  recordHistory(handle: WorkflowHandle, name: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Workflow-level tests run the real workflow code in the real sandbox, on the real dev server the rest of the suite
 * uses, with fake activities. Timers are short in these tests, so each branch takes seconds.
 */
export async function startWorkflowTestEnv(): Promise<WorkflowTestEnv> {
  quietSdkLogs();
  const [temporal, bundle]: [TestTemporal, WorkflowBundle] = await Promise.all([startTestTemporal(), bundleWorkflows()]);
  const connection = await Connection.connect({ address: temporal.address });
  const workerConnection = await NativeConnection.connect({ address: temporal.address });
  const client = new Client({ connection, dataConverter: testDataConverter });
  return {
    client,
    async withWorker(fakes, body) {
      const taskQueue = `wf-test-${randomUUID()}`;
      const worker = await Worker.create({
        connection: workerConnection,
        taskQueue,
        workflowBundle: bundle,
        activities: fakes.activities,
        dataConverter: testDataConverter,
      });
      return worker.runUntil(body(taskQueue));
    },
    workflowId: (prefix) => `${prefix}-${randomUUID()}`,
    async recordHistory(handle, name) {
      if (!recordInto) return;
      const dir = path.join(HISTORIES_DIR, recordInto);
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, `${name}.json`), `${historyToJSON(await handle.fetchHistory())}\n`);
    },
    async close() {
      await connection.close();
      await workerConnection.close();
      await temporal.cleanup();
    },
  };
}
