// The bad-input suite, recovery and history (issue 9, item 3): what a client
// asks to get back must reach it paced and bounded, never as one burst that
// trips its own slow-consumer limit (close 3008) or grows the node's memory.
//
// The node runs with the default limits: websocket.max_queued_bytes 1 MiB,
// max_data_bytes 32 KiB, ring_size 1024, history_limit 1000,
// history_max_bytes 512 KiB.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Centrifuge } from 'centrifuge';
import WebSocket from 'ws';
import { Herald, until } from './lib/herald.mjs';

const MAX_QUEUED = 1024 * 1024; //   websocket.max_queued_bytes (the default)
const HISTORY_BYTES = 512 * 1024; // websocket.history_max_bytes (the default)
const herald = new Herald(['--websocket.publish_rate=0']);
const clients = [];

before(async () => { await herald.start(); });
after(async () => {
  for (const c of clients) c.disconnect();
  await herald.cleanup();
});

function client() {
  const c = new Centrifuge(herald.ws, { websocket: WebSocket, minReconnectDelay: 50, maxReconnectDelay: 200 });
  clients.push(c);
  // Every disconnect the client saw, with its code (3008: slow consumer).
  c.closes = [];
  c.on('disconnected', (ctx) => c.closes.push(ctx.code));
  c.on('connecting', (ctx) => { if (ctx.code >= 3000) c.closes.push(ctx.code); });
  return c;
}

function recorder(c, channel) {
  const sub = c.newSubscription(channel);
  const rec = { sub, pubs: [], subscribed: [] };
  sub.on('publication', (ctx) => rec.pubs.push(ctx));
  sub.on('subscribed', (ctx) => rec.subscribed.push(ctx));
  return rec;
}

async function append(channel, data) {
  const res = await herald.json(`/api/streams/${channel}`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'message', data }),
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
}

const range = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

test('a client that missed 40 x 30 KB publications recovers them all, in order, without a 3008', async () => {
  const channel = 'chat:big-recovery';
  const a = client();
  const ra = recorder(a, channel);
  ra.sub.subscribe();
  a.connect();
  await ra.sub.ready();
  await append(channel, { i: 0, text: 'before' });
  await until(() => ra.pubs.length === 1, 'the first publication');
  a.disconnect();
  // 1.2 MB missed: more than the client's outbound queue may hold at once,
  // all of it in the channel's ring.
  const text = 'x'.repeat(30000);
  const missed = 40;
  for (let i = 1; i <= missed; i++) await append(channel, { i, text });
  assert.ok(missed * text.length > MAX_QUEUED);
  a.connect();
  await until(() => ra.pubs.length === missed + 1 || a.closes.includes(3008),
              'the missed publications', 30000);
  assert.ok(!a.closes.includes(3008), `closed as a slow consumer: ${a.closes}`);
  assert.deepEqual(ra.pubs.map((p) => p.offset), range(1, missed + 1));
  assert.deepEqual(ra.pubs.map((p) => p.data.i), range(0, missed));
  assert.equal(ra.subscribed.length, 2);
  assert.equal(ra.subscribed[1].recovered, true);
  // Live publications follow the recovered ones.
  await append(channel, { i: missed + 1, text: 'after' });
  await until(() => ra.pubs.length === missed + 2, 'a live publication');
  assert.equal(ra.pubs[missed + 1].offset, missed + 2);
});

/// Anonymous RSS of the node, in MiB.
function rssMiB() {
  const status = readFileSync(`/proc/${herald.proc.pid}/status`, 'utf8');
  return Number(status.match(/RssAnon:\s+(\d+)/)[1]) / 1024;
}

test('history of a large stream is bounded in bytes; the client pages with since; memory stays flat', async () => {
  const channel = 'chat:big-history';
  const text = 'y'.repeat(30000);
  const total = 600; // 18 MB
  for (let i = 1; i <= total; i++) await append(channel, { i, text });
  const a = client();
  const ra = recorder(a, channel);
  ra.sub.subscribe();
  a.connect();
  await ra.sub.ready();

  // limit -1 asks for up to history_limit (1000) publications: 18 MB. The
  // reply carries what fits in history_max_bytes, from the start.
  const first = await ra.sub.history({ limit: -1 });
  const bytes = JSON.stringify(first.publications).length;
  assert.ok(first.publications.length >= 1 && first.publications.length < total,
            `${first.publications.length} publications`);
  assert.ok(bytes <= HISTORY_BYTES, `a history reply of ${bytes} bytes`);
  assert.equal(first.offset, total);
  assert.deepEqual(first.publications.map((p) => p.offset), range(1, first.publications.length));

  // Paging on with `since` reads the whole stream, in order, no gap.
  let seen = first.publications.map((p) => p.offset);
  while (seen.length < total) {
    const page = await ra.sub.history({ limit: -1, since: { offset: seen.at(-1), epoch: first.epoch } });
    assert.ok(page.publications.length >= 1);
    seen = seen.concat(page.publications.map((p) => p.offset));
  }
  assert.deepEqual(seen, range(1, total));

  // Backwards too: the newest first, bounded the same way.
  const last = await ra.sub.history({ limit: -1, reverse: true });
  assert.ok(last.publications.length < total);
  assert.equal(last.publications[0].offset, total);

  // Repeated full-size requests leave memory where it was. (Under
  // AddressSanitizer, whose quarantine holds freed memory by design, RSS
  // says nothing about herald; the bound in bytes above still does.)
  const base = rssMiB();
  // (One at a time, as a client paging would: replies asked for all at
  // once would add up in the client's queue.)
  for (let i = 0; i < 60; i++) await ra.sub.history({ limit: -1 });
  const grew = rssMiB() - base;
  console.log(`anonymous RSS grew ${grew.toFixed(1)} MiB over 60 history requests`);
  const sanitized = readFileSync(`/proc/${herald.proc.pid}/maps`, 'utf8').includes('libasan');
  if (!sanitized) assert.ok(grew < 150, `anonymous RSS grew ${grew.toFixed(1)} MiB`);
  assert.ok(!a.closes.includes(3008), `closed as a slow consumer: ${a.closes}`);
});
