// Stream processors with the real centrifuge SDK and the embedded default's
// mentions processor: a chat message that mentions bob reaches the
// subscriber of inbox:bob live, enriched with the author's display name from
// the users read model; inbox channels have offsets, history and recovery
// like any channel; clients cannot publish there (103); GET /api/processors
// shows the processor and its figures, and a kill -9 loses and repeats
// nothing.
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

function client() {
  const c = new Centrifuge(herald.ws, { websocket: WebSocket, minReconnectDelay: 50, maxReconnectDelay: 200 });
  clients.push(c);
  return c;
}

function recorder(c, channel) {
  const sub = c.newSubscription(channel);
  const rec = { sub, pubs: [], subscribed: [] };
  sub.on('publication', (ctx) => rec.pubs.push(ctx));
  sub.on('subscribed', (ctx) => rec.subscribed.push(ctx));
  return rec;
}

async function subscribed(channel) {
  const c = client();
  const r = recorder(c, channel);
  r.sub.subscribe();
  c.connect();
  await r.sub.ready();
  return { c, r };
}

test('a message mentioning bob reaches inbox:bob live, with the author\'s display name', async () => {
  const { r: bob } = await subscribed('inbox:bob');
  const { r: al } = await subscribed('inbox:al');
  const { r: profile } = await subscribed('users:alice');
  await profile.sub.publish({ type: 'profile', display_name: 'Alice A.' });
  const { r: room } = await subscribed('chat:x');
  await room.sub.publish({ type: 'message', author: 'alice', text: 'hi @bob @al', mentions: ['bob', 'al', 'bob'] });
  await until(() => bob.pubs.length === 1 && al.pubs.length === 1, 'the mentions');
  const m = bob.pubs[0];
  assert.equal(m.offset, 1);
  assert.equal(m.tags.type, 'mention');
  const message = room.pubs.length ? room.pubs[0] : null;
  assert.deepEqual(m.data, {
    type: 'mention', room: 'x', offset: 1, position: m.data.position, author: 'alice',
    author_name: 'Alice A.', text: 'hi @bob @al',
  });
  if (message) assert.equal(String(m.data.position), message.tags.position);
  // The profile was published before the message: always seen (wait_for).
  assert.equal(al.pubs[0].data.author_name, 'Alice A.');
  // No profile: the author's own name.
  await room.sub.publish({ type: 'message', author: 'zed', text: 'yo', mentions: ['bob'] });
  await until(() => bob.pubs.length === 2, 'the second mention');
  assert.equal(bob.pubs[1].offset, 2);
  assert.equal(bob.pubs[1].data.author_name, 'zed');
  // Audit: each derived event says which processor made it from which event.
  const source = (await herald.json('/api/streams/chat:x')).body.events[0];
  const derived = (await herald.json('/api/streams/inbox:bob')).body.events[0];
  assert.equal(derived.meta.via, 'processor');
  assert.equal(derived.meta.processor, 'mentions');
  assert.equal(derived.meta.causation_id, source.id);
  assert.equal(derived.meta.correlation_id, source.id);
  assert.equal(source.meta.via, 'ws');
});

test('a profile set just before a message is always seen by its mentions', async () => {
  const { r: inbox } = await subscribed('inbox:carol');
  // One connection publishes both the profiles and the messages, so that
  // each profile is appended before the message sent after it.
  const c = client();
  const me = recorder(c, 'users:dave');
  const room = recorder(c, 'chat:race');
  me.sub.subscribe();
  room.sub.subscribe();
  c.connect();
  await me.sub.ready();
  await room.sub.ready();
  const n = 20;
  for (let i = 0; i < n; i++) {
    me.sub.publish({ type: 'profile', display_name: 'Dave ' + i });
    room.sub.publish({ type: 'message', author: 'dave', text: 't' + i, mentions: ['carol'] });
  }
  await until(() => inbox.pubs.length === n, 'every mention');
  // Publications of one connection are appended in order: message i follows
  // profile i, so its mention names Dave i or a later one, never an older.
  inbox.pubs.forEach((p, i) => {
    const k = Number(p.data.author_name.replace('Dave ', ''));
    assert.ok(k >= Number(p.data.text.slice(1)), `${p.data.author_name} for ${p.data.text}`);
    assert.equal(p.offset, i + 1);
  });
});

test('inbox history and recovery work; clients may not publish to an inbox (103)', async () => {
  const { c: reader, r: inbox } = await subscribed('inbox:erin');
  const { r: room } = await subscribed('chat:hist');
  for (let i = 1; i <= 3; i++) await room.sub.publish({ author: 'x', text: 'm' + i, mentions: ['erin'] });
  await until(() => inbox.pubs.length === 3, 'three mentions');
  reader.disconnect();
  for (let i = 4; i <= 5; i++) await room.sub.publish({ author: 'x', text: 'm' + i, mentions: ['erin'] });
  reader.connect();
  await until(() => inbox.subscribed.length === 2, 'resubscribe');
  await until(() => inbox.pubs.length === 5, 'recovered mentions');
  assert.equal(inbox.subscribed[1].recovered, true);
  assert.deepEqual(inbox.pubs.map((p) => p.offset), [1, 2, 3, 4, 5]);
  const history = await inbox.sub.history({ limit: 10 });
  assert.deepEqual(history.publications.map((p) => p.data.text), ['m1', 'm2', 'm3', 'm4', 'm5']);
  await assert.rejects(inbox.sub.publish({ type: 'mention', text: 'forged' }), (e) => e.code === 103);
});

test('GET /api/processors shows the mentions processor and its counters', async () => {
  const { status, body } = await herald.json('/api/processors');
  assert.equal(status, 200);
  const p = body.find((x) => x.name === 'mentions');
  assert.ok(p, JSON.stringify(body));
  assert.ok(['running', 'catching_up', 'waiting'].includes(p.status), p.status);
  assert.ok(p.events_out >= 3, JSON.stringify(p));
  assert.ok(p.batches >= 1);
  const one = await herald.json('/api/processors/mentions');
  assert.equal(one.status, 200);
  assert.equal(one.body.name, 'mentions');
  const none = await herald.json('/api/processors/nope');
  assert.equal(none.status, 404);
  assert.ok(none.body.error.code);
  const metrics = await (await herald.fetch('/metrics')).text();
  assert.match(metrics, /herald_processor_events_out_total\{processor="mentions"\} [1-9]/);
});

test('after kill -9 every message has its mentions exactly once', async () => {
  const { r: room } = await subscribed('chat:crash');
  const total = 30;
  for (let i = 1; i <= total / 2; i++) await room.sub.publish({ author: 'k', text: 'c' + i, mentions: ['frank'] });
  await herald.kill9();
  await herald.restart();
  for (let i = total / 2 + 1; i <= total; i++) {
    const res = await herald.json('/api/streams/chat:crash', {
      method: 'POST', body: JSON.stringify({ type: 'message', data: { author: 'k', text: 'c' + i, mentions: ['frank'] } }),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(res.status, 200);
  }
  let events = [];
  await until(async () => {
    events = (await herald.json('/api/streams/inbox:frank?limit=1000')).body.events || [];
    return events.length >= total;
  }, 'every mention after the restart', 20000);
  assert.deepEqual(events.map((e) => e.data.text), Array.from({ length: total }, (_, i) => 'c' + (i + 1)));
  assert.deepEqual(events.map((e) => e.version), Array.from({ length: total }, (_, i) => i + 1));
});
