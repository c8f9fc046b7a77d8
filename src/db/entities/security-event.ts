import { defineEntity, type InferEntity } from '@mikro-orm/core';

/**
 * A message to our workflows that was refused and belongs to no file we know (issue 11): a workflow started with an
 * input that is not ours (sent without our payload encryption, or without the shape of one), or a signal to a
 * workflow that has not yet registered its file. A refused message to a known file goes on that file's timeline
 * instead (file_event); the Security page shows both. Rows are only inserted; `eventKey` makes a retry land once.
 */
export const SecurityEvent = defineEntity({
  name: 'SecurityEvent',
  tableName: 'security_event',
  properties: (p) => ({
    id: p.bigint('number').primary().autoincrement(),
    eventKey: p.string().length(200).unique(),
    type: p.string().length(48),
    /** The workflow the message went to (IDs hold no patient data). */
    workflowId: p.string().length(255),
    runId: p.string().length(64),
    /** What was refused and why, in words; never the message's content, which is the sender's. */
    message: p.text(),
    at: p.datetime(),
  }),
  indexes: [{ properties: ['at'] }],
});

export type ISecurityEvent = InferEntity<typeof SecurityEvent>;
