import { Client } from 'pg';
import { FileLedger } from '../../src/db/file-ledger';
import { migrate, openOrm } from '../../src/db/orm';
import { createTestDatabase } from '../harness/database';

it('dbg', async () => {
  const db = await createTestDatabase();
  const orm = await openOrm(db.url);
  await migrate(orm);
  const pg = new Client({ connectionString: db.url });
  await pg.connect();
  const setup = new FileLedger(orm.em.fork());
  const { resultFileId } = await setup.register({ workflowId: 'w', runId: 'r', fileName: 'a.pdf', uploadPath: '/a', sizeBytes: 1, sha256: 'a'.repeat(64), uploadedAt: new Date() });
  const detail = process.env.DBG_DETAIL ? { when: new Date() } : undefined;
  await Promise.all([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map(async (w) => {
    const ledger = new FileLedger(orm.em.fork());
    for (let i = 0; i < 2; i++) {
      await ledger.transition(resultFileId, null, { eventKey: `w${w}e${i}`, type: 'NOTE', message: 'm', detail });
      console.log('DONE', `w${w}e${i}`, JSON.stringify((await pg.query('select event_key, seq from file_event order by seq')).rows));
    }
  }));
  await pg.end(); await orm.close(true); await db.drop();
});
