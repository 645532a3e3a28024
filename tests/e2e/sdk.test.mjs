// The real centrifuge SDK (npm, v5) against the real herald binary:
// connect, subscribe, publish, ordered delivery to several clients,
// history, presence, join/leave, rpc append with conflicts, and recovery
// after a disconnect and after kill -9 of the server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Centrifuge } from 'centrifuge';
import WebSocket from 'ws';
import { Herald, until } from './lib/herald.mjs';

const herald = new Herald();
const clients = [];

before(async () => { await herald.start(); });
after(async () => {
  for (const c of clients) c.disconnect();
  await herald.cleanup();
});

function client(opts = {}) {
  const c = new Centrifuge(herald.ws, { websocket: WebSocket, minReconnectDelay: 50, maxReconnectDelay: 200, ...opts });
  clients.push(c);
  return c;
}

/// A subscription that records what it receives.
function recorder(c, channel, opts = {}) {
  const sub = c.newSubscription(channel, opts);
  const rec = { sub, pubs: [], joins: [], leaves: [], subscribed: [] };
  sub.on('publication', (ctx) => rec.pubs.push(ctx));
  sub.on('join', (ctx) => rec.joins.push(ctx.info));
  sub.on('leave', (ctx) => rec.leaves.push(ctx.info));
  sub.on('subscribed', (ctx) => rec.subscribed.push(ctx));
  return rec;
}

test('connect, subscribe, publish: every client gets every publication in order', async () => {
  const a = client(), b = client(), c = client();
  const ra = recorder(a, 'chat:order'), rb = recorder(b, 'chat:order'), rc = recorder(c, 'chat:order');
  for (const [cl, r] of [[a, ra], [b, rb], [c, rc]]) { r.sub.subscribe(); cl.connect(); }
  await Promise.all([ra.sub.ready(), rb.sub.ready(), rc.sub.ready()]);
  const n = 60;
  for (let i = 0; i < n; i++) {
    const from = [ra, rb, rc][i % 3];
    await from.sub.publish({ type: 'message', author: 'p' + (i % 3), text: 'm' + i });
  }
  await until(() => [ra, rb, rc].every((r) => r.pubs.length === n), 'all publications');
  for (const r of [ra, rb, rc]) {
    assert.deepEqual(r.pubs.map((p) => p.offset), Array.from({ length: n }, (_, i) => i + 1));
    assert.deepEqual(r.pubs.map((p) => p.data.text), Array.from({ length: n }, (_, i) => 'm' + i));
    assert.equal(r.pubs[0].tags.type, 'message');
    assert.ok(Number(r.pubs[n - 1].tags.position) >= n);
  }
  // The publisher's info rides along: the first came from a, the second from b.
  assert.ok(rb.pubs[0].info.client.length > 0);
  assert.notEqual(rb.pubs[0].info.client, rb.pubs[1].info.client);
  assert.equal(rb.pubs[0].info.client, rb.pubs[3].info.client);
});

test('data is carried unchanged and the type comes from data.type', async () => {
  const a = client();
  const r = recorder(a, 'chat:data');
  r.sub.subscribe();
  a.connect();
  await r.sub.ready();
  const payloads = [{ type: 'edit', nested: { list: [1, 2.5, 'x', null, true] }, text: 'é 😀 "q"\nline' },
                    [1, 2, 3], 'just a string', 42];
  for (const p of payloads) await r.sub.publish(p);
  await until(() => r.pubs.length === payloads.length, 'publications');
  assert.deepEqual(r.pubs.map((p) => p.data), payloads);
  assert.deepEqual(r.pubs.map((p) => p.tags.type), ['edit', 'message', 'message', 'message']);
});

test('history: limit, since, reverse, and 112 for a wrong epoch', async () => {
  const a = client();
  const r = recorder(a, 'chat:history');
  r.sub.subscribe();
  a.connect();
  await r.sub.ready();
  for (let i = 1; i <= 5; i++) await r.sub.publish({ text: 'h' + i });
  const all = await r.sub.history({ limit: 10 });
  assert.deepEqual(all.publications.map((p) => p.offset), [1, 2, 3, 4, 5]);
  assert.equal(all.offset, 5);
  const since = await r.sub.history({ limit: 10, since: { offset: 2, epoch: all.epoch } });
  assert.deepEqual(since.publications.map((p) => p.data.text), ['h3', 'h4', 'h5']);
  const reverse = await r.sub.history({ limit: 2, reverse: true });
  assert.deepEqual(reverse.publications.map((p) => p.offset), [5, 4]);
  const position = await r.sub.history();
  assert.deepEqual(position.publications, []);
  assert.equal(position.offset, 5);
  await assert.rejects(r.sub.history({ limit: 1, since: { offset: 1, epoch: 'nope' } }),
                       (e) => e.code === 112);
});

test('presence, presence_stats and join/leave', async () => {
  const a = client(), b = client();
  const ra = recorder(a, 'chat:presence', { joinLeave: true });
  ra.sub.subscribe();
  a.connect();
  await ra.sub.ready();
  const rb = recorder(b, 'chat:presence', { joinLeave: true });
  rb.sub.subscribe();
  b.connect();
  await rb.sub.ready();
  await until(() => ra.joins.length >= 2, 'joins');
  const p = await ra.sub.presence();
  assert.equal(Object.keys(p.clients).length, 2);
  const stats = await ra.sub.presenceStats();
  assert.equal(stats.numClients, 2);
  rb.sub.unsubscribe();
  await until(() => ra.leaves.length === 1, 'leave');
  assert.equal((await ra.sub.presenceStats()).numClients, 1);
});

test('rpc append: an event-sourced command with an expected version', async () => {
  const a = client();
  a.connect();
  await a.ready();
  const first = await a.rpc('append', { channel: 'chat:rpc', type: 'created', data: { n: 1 }, expected_version: 'no_stream' });
  assert.deepEqual(Object.keys(first.data).sort(), ['offset', 'position']);
  assert.equal(first.data.offset, 1);
  const second = await a.rpc('append', { channel: 'chat:rpc', type: 'renamed', data: { n: 2 }, expected_version: 1, id: 'cmd-2' });
  assert.equal(second.data.offset, 2);
  // A stale expectation is a conflict that names the actual version.
  await assert.rejects(a.rpc('append', { channel: 'chat:rpc', type: 'renamed', data: {}, expected_version: 1 }),
                       (e) => e.code === 409 && /actual 2/.test(e.message));
  // Retrying a command with the same id is idempotent.
  const retry = await a.rpc('append', { channel: 'chat:rpc', type: 'renamed', data: { n: 2 }, expected_version: 1, id: 'cmd-2' });
  assert.equal(retry.data.offset, 2);
  assert.equal(retry.data.idempotent, true);
  await assert.rejects(a.rpc('nope', {}), (e) => e.code === 104);
});

test('recovery after a disconnect: exactly the missed publications', async () => {
  const a = client(), b = client();
  const ra = recorder(a, 'chat:recover');
  ra.sub.subscribe();
  a.connect();
  await ra.sub.ready();
  const rb = recorder(b, 'chat:recover');
  rb.sub.subscribe();
  b.connect();
  await rb.sub.ready();
  for (let i = 1; i <= 3; i++) await rb.sub.publish({ text: 'before ' + i });
  await until(() => ra.pubs.length === 3, 'first publications');
  a.disconnect();
  for (let i = 1; i <= 4; i++) await rb.sub.publish({ text: 'missed ' + i });
  a.connect();
  await until(() => ra.subscribed.length === 2, 'resubscribe');
  await until(() => ra.pubs.length === 7, 'missed publications');
  const again = ra.subscribed[1];
  assert.equal(again.wasRecovering, true);
  assert.equal(again.recovered, true);
  assert.deepEqual(ra.pubs.map((p) => p.offset), [1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(ra.pubs.slice(3).map((p) => p.data.text), ['missed 1', 'missed 2', 'missed 3', 'missed 4']);
});

test('recovery after kill -9 of the server: same epoch, nothing acknowledged lost', async () => {
  const a = client();
  const ra = recorder(a, 'chat:crash');
  ra.sub.subscribe();
  a.connect();
  await ra.sub.ready();
  const epoch = ra.subscribed[0].streamPosition.epoch;
  for (let i = 1; i <= 5; i++) await ra.sub.publish({ text: 'acked ' + i });
  await until(() => ra.pubs.length === 5, 'publications');
  await herald.kill9();
  // Acknowledged over REST while the client is away (after the restart).
  await herald.restart();
  for (let i = 1; i <= 3; i++) {
    const res = await herald.json('/api/streams/chat:crash', {
      method: 'POST', body: JSON.stringify({ type: 'message', data: { text: 'later ' + i } }),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(res.status, 200);
  }
  await until(() => ra.pubs.length === 8, 'recovered publications', 20000);
  const last = ra.subscribed[ra.subscribed.length - 1];
  assert.equal(last.recovered, true);
  assert.equal(last.streamPosition.epoch, epoch);
  assert.deepEqual(ra.pubs.map((p) => p.offset), [1, 2, 3, 4, 5, 6, 7, 8]);
  const history = await ra.sub.history({ limit: 100 });
  assert.deepEqual(history.publications.map((p) => p.data.text),
                   ['acked 1', 'acked 2', 'acked 3', 'acked 4', 'acked 5', 'later 1', 'later 2', 'later 3']);
});
