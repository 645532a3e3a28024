// Bad input about identity: event ids claimed ahead of their owner, and a
// second node started on a data directory that is in use.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Centrifuge } from 'centrifuge';
import WebSocket from 'ws';
import { Herald } from './lib/herald.mjs';

const cleanups = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function started(args = [], options = {}) {
  const herald = new Herald(args, options);
  cleanups.push(() => herald.cleanup());
  await herald.start();
  return herald;
}

async function connected(herald) {
  const c = new Centrifuge(herald.ws, { websocket: WebSocket });
  cleanups.push(() => c.disconnect());
  await new Promise((resolve, reject) => {
    c.once('connected', resolve);
    c.once('disconnected', (ctx) => reject(new Error(`disconnected: ${ctx.code} ${ctx.reason}`)));
    c.connect();
  });
  return c;
}

const append = (herald, stream, event) =>
  herald.json(`/api/streams/${encodeURIComponent(stream)}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(event),
  });

async function readStream(herald, stream) {
  const r = await herald.json(`/api/streams/${encodeURIComponent(stream)}?limit=100`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.events;
}

// Event ids are scoped per stream: a client claiming the backend's id on a
// channel of its own does not make the backend's append "idempotent" (which
// would have left the client's event standing for the backend's), and within
// a stream a reused id must carry the stored event.
test('an event id claimed first on another channel does not capture the backend\'s event', async () => {
  const herald = await started();
  const mallory = await connected(herald);
  const claimed = await mallory.rpc('append', {
    channel: 'chat:mallory', type: 'paid', id: 'order-77-paid', data: { amount: 0, by: 'mallory' },
  });
  assert.equal(claimed.data.offset, 1);
  assert.equal(claimed.data.idempotent, undefined);

  // The backend's append of the same id on its own stream is stored.
  const paid = { type: 'paid', id: 'order-77-paid', data: { amount: 77, by: 'backend' } };
  const stored = await append(herald, 'chat:orders', paid);
  assert.equal(stored.status, 200, JSON.stringify(stored.body));
  assert.notEqual(stored.body.idempotent, true);
  assert.notEqual(stored.body.position, claimed.data.position);
  const orders = await readStream(herald, 'chat:orders');
  assert.deepEqual(orders.map((e) => [e.id, e.type, e.data]), [['order-77-paid', 'paid', paid.data]]);
  assert.equal((await readStream(herald, 'chat:mallory'))[0].data.by, 'mallory');

  // A client reusing the id on that stream with other data: a conflict.
  await assert.rejects(
    mallory.rpc('append', { channel: 'chat:orders', type: 'paid', id: 'order-77-paid', data: { amount: 0, by: 'mallory' } }),
    (e) => e.code === 409 && /duplicate event id/.test(e.message));
  // With another type only, too, and over REST as well.
  await assert.rejects(
    mallory.rpc('append', { channel: 'chat:orders', type: 'refunded', id: 'order-77-paid', data: paid.data }),
    (e) => e.code === 409);
  const changed = await append(herald, 'chat:orders', { ...paid, data: { amount: 1, by: 'backend' } });
  assert.equal(changed.status, 409, JSON.stringify(changed.body));
  assert.equal(changed.body.error.code, 'duplicate_id');

  // The backend's retry with identical content is idempotent, over REST and
  // over WebSocket alike, and answers with the backend's event.
  const retry = await append(herald, 'chat:orders', paid);
  assert.equal(retry.status, 200, JSON.stringify(retry.body));
  assert.equal(retry.body.idempotent, true);
  assert.equal(retry.body.position, stored.body.position);
  const wsRetry = await mallory.rpc('append', { channel: 'chat:orders', ...paid });
  assert.equal(wsRetry.data.idempotent, true);
  assert.equal(wsRetry.data.position, stored.body.position);
  assert.deepEqual((await readStream(herald, 'chat:orders')).map((e) => e.data), [paid.data]);
});

// One node per data directory: a second one refuses to start, with one line
// naming the directory and the holder, and harms nothing. The lock goes with
// the process, even on kill -9, so a crashed node restarts at once.
test('a second node on a data directory in use refuses to start; kill -9 frees it', async () => {
  const first = await started();
  const before = await append(first, 'chat:lock', { type: 'message', data: { text: 'one' } });
  assert.equal(before.status, 200);

  const second = new Herald([], { dataDir: first.dataDir });
  await assert.rejects(second.start(), (e) => {
    assert.match(e.message, /herald exited \(1\) before listening/);
    return true;
  });
  const lines = second.log.trim().split('\n');
  assert.equal(lines.length, 1, second.log);
  assert.equal(lines[0], `herald: the data directory ${first.dataDir} is in use by another herald `
                         + `(pid ${first.proc.pid}); each node needs a data directory of its own`);

  // The first node goes on unharmed.
  const health = await first.json('/health');
  assert.equal(health.body.status, 'ok');
  const after = await append(first, 'chat:lock', { type: 'message', data: { text: 'two' } });
  assert.equal(after.status, 200, JSON.stringify(after.body));
  assert.equal(after.body.version, 2);

  // Killed, the node restarts on its directory at once.
  await first.kill9();
  await first.restart();
  assert.deepEqual((await readStream(first, 'chat:lock')).map((e) => e.data.text), ['one', 'two']);
  const third = await append(first, 'chat:lock', { type: 'message', data: { text: 'three' } });
  assert.equal(third.status, 200, JSON.stringify(third.body));
});
