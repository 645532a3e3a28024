// Bad input against projections and the figures operators read, with the
// default config (the chat demo) and the real binary: a private channel
// ($chat:lobby) neither wedges the chat projection nor shows in its public
// queries; /metrics counts every delivery, keeps counting after channels
// stop, and counts conflicts apart from errors (docs/security.md,
// docs/operations.md).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Herald, until } from './lib/herald.mjs';
import { Raw } from './lib/raw.mjs';

const apiKey = 'e2e-projections-key';
// The backend appends to the private channel with the API key, as a server
// would; idle channels stop quickly so that the deliveries counter is seen
// to outlive them.
const herald = new Herald([`--http.api_key=${apiKey}`, '--channels.idle_stop=50ms']);
const auth = { 'X-API-Key': apiKey };

before(async () => { await herald.start(); });
after(async () => { await herald.cleanup(); });

async function append(stream, data, headers = {}) {
  return herald.json(`/api/streams/${stream}`, {
    method: 'POST', headers: { ...auth, ...headers }, body: JSON.stringify({ type: 'message', data }),
  });
}

async function chatStatus() {
  const { status, body } = await herald.json('/api/projections/chat', { headers: auth });
  assert.equal(status, 200);
  return body;
}

/// The value of an unlabelled metric.
async function metric(name) {
  const text = await (await herald.fetch('/metrics', { headers: auth })).text();
  const m = text.match(new RegExp(`^${name} (\\d+)$`, 'm'));
  assert.ok(m, `${name} missing from /metrics:\n${text}`);
  return Number(m[1]);
}

test('a private channel neither wedges the chat projection nor shows in its public queries', async () => {
  // Same room, same version: private first, as an attacker would.
  const secret = await append('$chat:lobby', { author: 'eve', text: 'private text' });
  assert.equal(secret.status, 200, JSON.stringify(secret.body));
  const open = await append('chat:lobby', { author: 'ann', text: 'public text' });
  assert.equal(open.status, 200, JSON.stringify(open.body));
  const head = open.body.position;
  await until(async () => {
    const s = await chatStatus();
    return s.status === 'faulted' || s.position >= head;
  }, 'the chat projection to apply both events');
  const s = await chatStatus();
  assert.equal(s.status, 'running', JSON.stringify(s));
  assert.equal(s.position, head);
  const res = await herald.fetch('/api/queries/messages?room=lobby', { headers: auth });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('herald-projection-status'), 'running');
  const q = await res.json();
  assert.equal(q.status, 'running');
  assert.deepEqual(q.rows.map((r) => r.text), ['public text']);
  assert.ok(!JSON.stringify(q).includes('private text'), JSON.stringify(q));
  // Later events still apply.
  const later = await append('chat:lobby', { author: 'ann', text: 'again' });
  await until(async () => (await chatStatus()).position >= later.body.position, 'a later event');
  assert.equal((await chatStatus()).status, 'running');
});

test('deliveries: a subscribe and a publish in one frame count, and the count outlives the channel', async () => {
  const before = await metric('herald_deliveries_total');
  const c = new Raw(herald.ws);
  await c.open();
  c.send([
    '{"connect":{},"id":1}',
    '{"subscribe":{"channel":"chat:pipelined"},"id":2}',
    '{"publish":{"channel":"chat:pipelined","data":{"text":"mine"}},"id":3}',
  ].join('\n'));
  const pub = await c.until((m) => m.push && m.push.pub);
  assert.deepEqual(pub.push.pub.data, { text: 'mine' });
  const counted = await metric('herald_deliveries_total');
  assert.ok(counted >= before + 1, `deliveries ${before} -> ${counted}`);
  c.close();
  await c.closed;
  // The channel idles out and stops; what it delivered stays counted.
  await until(async () => (await metric('herald_channels')) === 0, 'the idle channel to stop');
  assert.ok((await metric('herald_deliveries_total')) >= counted);
});

test('a conflict (409) is counted as a conflict, not as a publish error', async () => {
  const errors = await metric('herald_publish_errors_total');
  const conflicts = await metric('herald_publish_conflicts_total');
  assert.equal((await append('chat:versions', { n: 1 })).status, 200);
  const stale = await append('chat:versions', { n: 2 }, { 'Expected-Version': '0' });
  assert.equal(stale.status, 409, JSON.stringify(stale.body));
  assert.equal(await metric('herald_publish_conflicts_total'), conflicts + 1);
  assert.equal(await metric('herald_publish_errors_total'), errors);
  // The same over WebSocket: rpc append with a failed expectation is error 409.
  const c = new Raw(herald.ws);
  await c.open();
  c.send([
    '{"connect":{},"id":1}',
    '{"rpc":{"method":"append","data":{"channel":"chat:versions","type":"t","data":{},"expected_version":0}},"id":2}',
  ].join('\n'));
  const reply = await c.until((m) => m.id === 2);
  c.close();
  assert.equal(reply.error?.code, 409, JSON.stringify(reply));
  assert.equal(await metric('herald_publish_conflicts_total'), conflicts + 2);
  assert.equal(await metric('herald_publish_errors_total'), errors);
});
