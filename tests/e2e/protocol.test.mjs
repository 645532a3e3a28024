// The client protocol's edge cases, with a raw WebSocket client: several
// commands in one frame, commands before connect, malformed JSON, unknown
// methods, binary and oversized frames, the connect deadline and pings. A
// bystander subscribed all along must keep receiving every publication.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Herald } from './lib/herald.mjs';
import { Raw } from './lib/raw.mjs';

const herald = new Herald(['--websocket.connect_timeout=500ms', '--websocket.max_message_bytes=4KiB']);
let bystander;
let published = 0;

before(async () => {
  await herald.start();
  bystander = new Raw(herald.ws);
  await bystander.open();
  bystander.send('{"connect":{"name":"bystander"},"id":1}\n{"subscribe":{"channel":"chat:edge"},"id":2}');
  await bystander.until((m) => m.id === 2 && m.subscribe);
});

after(async () => { bystander.close(); await herald.cleanup(); });

/// Publishes over REST and checks the bystander got it, in order.
async function bystanderStillServed() {
  const res = await herald.json('/api/streams/chat:edge', {
    method: 'POST', body: JSON.stringify({ type: 'message', data: { n: ++published } }),
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(res.status, 200);
  const pub = await bystander.until((m) => m.push && m.push.pub);
  assert.equal(pub.push.pub.offset, published);
  assert.deepEqual(pub.push.pub.data, { n: published });
}

async function connected() {
  const c = new Raw(herald.ws);
  await c.open();
  c.send('{"connect":{},"id":1}');
  const [reply] = await c.messages();
  assert.ok(reply.connect.client);
  return c;
}

test('several commands in one frame: all answered, the immediate replies in one frame', async () => {
  const c = new Raw(herald.ws);
  await c.open();
  c.send([
    '{"connect":{"name":"js"},"id":1}',
    '{"subscribe":{"channel":"chat:multi"},"id":2}',
    '{"presence_stats":{"channel":"chat:multi"},"id":3}',
    '{"unsubscribe":{"channel":"chat:none"},"id":4}',
  ].join('\n'));
  const first = await c.messages();
  assert.equal(first[0].id, 1);
  // connect and unsubscribe answer at once, so they share the first frame.
  assert.ok(first.some((m) => m.id === 4), JSON.stringify(first));
  assert.equal(first[0].connect.pong, true);
  assert.equal(first[0].connect.ping, 25);
  const all = first.filter((m) => m.id);
  while (all.length < 4) all.push(...(await c.messages()).filter((m) => m.id)); // pushes aside
  const ids = all.map((m) => m.id).sort();
  assert.deepEqual(ids, [1, 2, 3, 4]);
  assert.deepEqual(all.find((m) => m.id === 4).unsubscribe, {});
  assert.ok(all.find((m) => m.id === 2).subscribe.epoch);
  c.close();
  await bystanderStillServed();
});

test('a command before connect closes with 3501', async () => {
  const c = new Raw(herald.ws);
  await c.open();
  c.send('{"subscribe":{"channel":"chat:x"},"id":1}');
  const { code, reason } = await c.closed;
  assert.equal(code, 3501);
  assert.equal(reason, 'bad request');
  await bystanderStillServed();
});

test('malformed JSON closes with 3501', async () => {
  for (const junk of ['{"connect":', 'not json', '[1,2]', '{"connect":{},"id":-1}', '{"connect":{},"subscribe":{}}']) {
    const c = new Raw(herald.ws);
    await c.open();
    c.send(junk);
    const { code } = await c.closed;
    assert.equal(code, 3501, junk);
  }
  const c = await connected();
  c.send('{"publish":{"channel":"chat:x","data":{}},"id":2}\n{oops');
  assert.equal((await c.closed).code, 3501);
  await bystanderStillServed();
});

test('unknown methods get error 104; a second connect closes with 3501', async () => {
  const c = await connected();
  c.send('{"frobnicate":{},"id":7}');
  const [reply] = await c.messages();
  assert.deepEqual(reply, { id: 7, error: { code: 104, message: 'method not found' } });
  c.send('{"connect":{},"id":8}');
  assert.equal((await c.closed).code, 3501);
  await bystanderStillServed();
});

test('bad requests get their codes and the connection stays', async () => {
  const c = await connected();
  const reply = (id) => c.until((m) => m.id === id);
  c.send('{"subscribe":{"channel":"nowhere:x"},"id":2}');
  assert.equal((await reply(2)).error.code, 102);
  c.send('{"subscribe":{"channel":""},"id":3}');
  assert.equal((await reply(3)).error.code, 107);
  c.send('{"subscribe":{"channel":"chat:dup"},"id":4}');
  assert.ok((await reply(4)).subscribe);
  c.send('{"subscribe":{"channel":"chat:dup"},"id":5}');
  assert.equal((await reply(5)).error.code, 105);
  c.send('{"subscribe":{"channel":7},"id":6}');
  assert.equal((await reply(6)).error.code, 107);
  c.send('{"history":{"channel":"chat:dup","since":{"offset":1,"epoch":"nope"},"limit":5},"id":9}');
  assert.equal((await reply(9)).error.code, 112);
  c.send('{"send":{"data":{"x":1}}}\n{"presence_stats":{"channel":"chat:dup"},"id":10}');
  assert.deepEqual(await reply(10), { id: 10, presence_stats: { num_clients: 1, num_users: 1 } });
  c.close();
  await bystanderStillServed();
});

// docs/protocol.md: with no token keys configured (the default) no token is
// valid: sub_refresh gets 103, refresh closes with 3500.
test('refresh and sub_refresh without token keys: 103, then close 3500', async () => {
  const c = await connected();
  const reply = (id) => c.until((m) => m.id === id);
  c.send('{"subscribe":{"channel":"chat:refresh"},"id":2}');
  assert.ok((await reply(2)).subscribe);
  c.send('{"sub_refresh":{"channel":"chat:refresh","token":"x.y.z"},"id":3}');
  assert.equal((await reply(3)).error.code, 103);
  c.send('{"refresh":{"token":"x.y.z"},"id":4}');
  const closed = await c.closed;
  assert.deepEqual(closed, { code: 3500, reason: 'invalid token' });
  await bystanderStillServed();
});

test('a binary frame closes with 3501', async () => {
  const c = await connected();
  c.ws.send(Buffer.from([1, 2, 3]));
  assert.equal((await c.closed).code, 3501);
  await bystanderStillServed();
});

test('an oversized frame closes with 1009', async () => {
  const c = await connected();
  c.send(JSON.stringify({ publish: { channel: 'chat:big', data: { text: 'x'.repeat(10000) } }, id: 2 }));
  assert.equal((await c.closed).code, 1009);
  await bystanderStillServed();
});

test('no connect within websocket.connect_timeout closes with 3502', async () => {
  const c = new Raw(herald.ws);
  await c.open();
  const { code, reason } = await c.closed;
  assert.equal(code, 3502);
  assert.equal(reason, 'stale');
  await bystanderStillServed();
});

test('every close reason is non-empty and not JSON', async () => {
  const c = new Raw(herald.ws);
  await c.open();
  c.send('nope');
  const { reason } = await c.closed;
  assert.ok(reason.length > 0);
  assert.throws(() => JSON.parse(reason));
});

test('pings come every websocket.ping_interval; a client that stops ponging gets 3012', async () => {
  const h = new Herald(['--websocket.ping_interval=300ms', '--websocket.pong_timeout=200ms']);
  await h.start();
  try {
    const good = new Raw(h.ws);
    await good.open();
    good.send('{"connect":{},"id":1}');
    await good.messages();
    const silent = new Raw(h.ws);
    await silent.open();
    silent.send('{"connect":{},"id":1}');
    await silent.messages();
    // The good client answers two pings; the silent one never does.
    for (let i = 0; i < 2; i++) {
      assert.deepEqual(await good.messages(2000), [{}]);
      good.send('{}');
    }
    const { code, reason } = await silent.closed;
    assert.equal(code, 3012);
    assert.equal(reason, 'no pong');
    assert.equal(good.ws.readyState, 1);
    good.close();
  } finally {
    await h.cleanup();
  }
});

test('SIGTERM closes sessions with 3001 and exits 0', async () => {
  const h = new Herald();
  await h.start();
  const c = new Raw(h.ws);
  await c.open();
  c.send('{"connect":{},"id":1}');
  await c.messages();
  const status = h.stop();
  const { code, reason } = await c.closed;
  assert.equal(code, 3001);
  assert.equal(reason, 'shutdown');
  assert.equal((await status).code, 0);
  await h.cleanup();
});
