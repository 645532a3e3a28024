// Rebuilding a stream processor from a position, with the real centrifuge
// SDK and the embedded default's mentions processor: a subscriber of an
// inbox sees the mentions of the messages from that position again, as new
// publications with new offsets; history and recovery of the inbox stay
// gap-free; the REST action answers bad input with JSON errors and needs the
// API key like retry and skip.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Centrifuge } from 'centrifuge';
import WebSocket from 'ws';
import { Herald, until } from './lib/herald.mjs';

const apiKey = 'rebuild-e2e-key';
const herald = new Herald();
const keyed = new Herald([`--http.api_key=${apiKey}`]);
const clients = [];

before(async () => { await Promise.all([herald.start(), keyed.start()]); });
after(async () => {
  for (const c of clients) c.disconnect();
  await herald.cleanup();
  await keyed.cleanup();
});

function client() {
  const c = new Centrifuge(herald.ws, { websocket: WebSocket, minReconnectDelay: 50, maxReconnectDelay: 200 });
  clients.push(c);
  return c;
}

async function subscribed(channel) {
  const c = client();
  const sub = c.newSubscription(channel);
  const rec = { c, sub, pubs: [], subscribed: [] };
  sub.on('publication', (ctx) => rec.pubs.push(ctx));
  sub.on('subscribed', (ctx) => rec.subscribed.push(ctx));
  sub.subscribe();
  c.connect();
  await sub.ready();
  return rec;
}

const json = { 'content-type': 'application/json' };

function rebuild(node, query, headers = json) {
  return node.json(`/api/processors/mentions/rebuild${query}`, { method: 'POST', headers, body: '{}' });
}

async function mentionsOf(name) {
  return (await herald.json(`/api/streams/inbox:${name}?limit=1000`)).body.events;
}

test('after a rebuild from P the inbox gets the mentions of the messages from P again, gap-free', async () => {
  const inbox = await subscribed('inbox:gina');
  const room = await subscribed('chat:rebuilt');
  for (let i = 1; i <= 4; i++) await room.sub.publish({ type: 'message', author: 'hal', text: 'm' + i, mentions: ['gina'] });
  await until(() => inbox.pubs.length === 4, 'the four mentions');
  const from = inbox.pubs[2].data.position; // the message m3
  const first = await rebuild(herald, `?from=${from}`);
  assert.equal(first.status, 202, JSON.stringify(first.body));
  assert.equal(first.body.name, 'mentions');
  assert.equal(first.body.generation, 1);
  assert.equal(first.body.rebuilds, 1);
  assert.equal(first.body.last_error, null);
  // The subscriber sees m3 and m4 again, as new publications.
  await until(() => inbox.pubs.length === 6, 'the mentions again');
  assert.deepEqual(inbox.pubs.map((p) => p.offset), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(inbox.pubs.map((p) => p.data.text), ['m1', 'm2', 'm3', 'm4', 'm3', 'm4']);
  assert.equal(inbox.pubs[4].data.position, from);
  // Offline across a second rebuild and a new message: recovery brings
  // exactly what was missed, in order.
  inbox.c.disconnect();
  const second = await rebuild(herald, `?from=${from}`);
  assert.equal(second.status, 202, JSON.stringify(second.body));
  assert.equal(second.body.generation, 2);
  await room.sub.publish({ type: 'message', author: 'hal', text: 'm5', mentions: ['gina'] });
  await until(async () => (await mentionsOf('gina')).length === 9, 'the second rebuild\'s mentions');
  inbox.c.connect();
  await until(() => inbox.subscribed.length === 2, 'resubscribed');
  await until(() => inbox.pubs.length === 9, 'recovered mentions');
  assert.equal(inbox.subscribed[1].recovered, true);
  assert.deepEqual(inbox.pubs.map((p) => p.offset), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const texts = ['m1', 'm2', 'm3', 'm4', 'm3', 'm4', 'm3', 'm4', 'm5'];
  assert.deepEqual(inbox.pubs.map((p) => p.data.text), texts);
  const history = await inbox.sub.history({ limit: 20 });
  assert.deepEqual(history.publications.map((p) => p.offset), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(history.publications.map((p) => p.data.text), texts);
  // Each event names the generation that derived it, in its id and meta.
  const events = await mentionsOf('gina');
  assert.deepEqual(events.map((e) => e.meta.generation ?? 0), [0, 0, 0, 0, 1, 1, 2, 2, 2]);
  assert.match(events[4].id, new RegExp(`^mentions-g1-${from}-\\d+$`));
  assert.match(events[0].id, /^mentions-\d+-\d+$/);
  const status = (await herald.json('/api/processors/mentions')).body;
  assert.equal(status.generation, 2);
  assert.equal(status.rebuilds, 2);
  const metrics = await (await herald.fetch('/metrics')).text();
  assert.match(metrics, /herald_processor_rebuilds_total\{processor="mentions"\} 2\n/);
  // One audit line per rebuild: who asked, from where.
  const lines = herald.log.split('\n').filter((l) => l.includes('mentions: rebuild from position'));
  assert.equal(lines.length, 2, lines.join('\n'));
  assert.match(lines[0], new RegExp(`rebuild from position ${from} asked by an anonymous REST caller`));
});

test('a rebuild with a bad from is a 400, of an unknown processor a 404', async () => {
  const head = (await herald.json('/api/events?from=1&limit=100000')).body.events.at(-1).position;
  for (const query of ['?from=abc', '?from=0', '?from=-1', '?from=1.5', '?from=', `?from=${head + 2}`, '?from=99999999999999999999']) {
    const r = await rebuild(herald, query);
    assert.equal(r.status, 400, `${query}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error.code, 'bad_request', query);
    assert.ok(r.body.error.message.length > 0, query);
  }
  assert.equal((await herald.json('/api/processors/mentions')).body.generation, 2, 'nothing changed');
  const none = await herald.json('/api/processors/nope/rebuild?from=1', { method: 'POST', headers: json, body: '{}' });
  assert.equal(none.status, 404);
  assert.equal(none.body.error.code, 'not_found');
  const get = await herald.fetch('/api/processors/mentions/rebuild');
  assert.equal(get.status, 405);
});

test('a rebuild needs the API key when one is set, and a same-site JSON POST without one', async () => {
  for (const headers of [json, { ...json, 'x-api-key': 'wrong' }]) {
    const r = await rebuild(keyed, '?from=1', headers);
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'unauthorized');
  }
  const ok = await rebuild(keyed, '?from=1', { ...json, 'x-api-key': apiKey });
  assert.equal(ok.status, 202, JSON.stringify(ok.body));
  assert.equal(ok.body.generation, 1);
  assert.match(keyed.log, /rebuild from position 1 asked by REST with API key/);
  // Without a key, what a page on another site could make a browser send is
  // refused, as for retry and skip.
  const cross = await rebuild(herald, '?from=1', { ...json, origin: 'http://evil.example' });
  assert.equal(cross.status, 403);
  assert.equal(cross.body.error.code, 'forbidden');
  const text = await rebuild(herald, '?from=1', { 'content-type': 'text/plain' });
  assert.equal(text.status, 415);
  assert.equal((await herald.json('/api/processors/mentions')).body.generation, 2, 'nothing changed');
});
