import { defineEntity, type InferEntity } from '@mikro-orm/core';

/**
 * One alert: a condition the notifier found (src/alerts/), recorded once per period. `kind`, `subject` and `period`
 * are the dedupe key: a file's condition (`file:123`) or a clinic's (`clinic:main/digawana`) is raised once, and, while
 * it holds, again each day (`period` is the lab's local day, or `once` for an event such as a rejection). A restart
 * therefore never raises the same alert twice. `summary` names no patient: files appear by their number only.
 */
export const Alert = defineEntity({
  name: 'Alert',
  tableName: 'alert',
  properties: (p) => ({
    id: p.bigint('number').primary().autoincrement(),
    kind: p.string().length(48),
    subject: p.string().length(300),
    period: p.string().length(16),
    /** The lab's name, or null for a condition of the whole system (the receipt scan). */
    lab: p.string().length(100).nullable(),
    summary: p.text(),
    /** Result file numbers the alert is about (their names are added to a message only when a setting allows). */
    fileIds: p.json<number[]>(),
    raisedAt: p.datetime().index(),
  }),
  uniques: [{ properties: ['kind', 'subject', 'period'] }],
});

/**
 * Who was told of an alert, how and when: one row per alert and channel (e-mail to a list, a webhook). A row stays
 * `pending` until its channel accepted a message holding it; each try is counted, with its last error.
 */
export const AlertDelivery = defineEntity({
  name: 'AlertDelivery',
  tableName: 'alert_delivery',
  properties: (p) => ({
    id: p.bigint('number').primary().autoincrement(),
    alertId: p.bigint('number'),
    channel: p.string().length(16),
    /** The addresses or the URL (without its query) the message went to. */
    recipient: p.text(),
    status: p.string().length(16),
    attempts: p.integer().default(0),
    lastError: p.text().nullable(),
    sentAt: p.datetime().nullable(),
    /** The mail server's message id, or the webhook's HTTP status. */
    receipt: p.string().length(300).nullable(),
  }),
  uniques: [{ properties: ['alertId', 'channel'] }],
  indexes: [{ properties: ['status', 'channel'] }],
});

export type IAlert = InferEntity<typeof Alert>;
export type IAlertDelivery = InferEntity<typeof AlertDelivery>;
