// The REST API of docs/rest.md against the real binary: every endpoint, its
// errors and status codes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Herald, until } from './lib/herald.mjs';

const herald = new Herald(['--http.max_body_bytes=4KiB']);
before(async () => { await herald.start(); });
after(() => herald.cleanup());

// Without an API key a POST must say it is JSON (docs/security.md).
const post = (path, body, headers = {}) =>
  herald.json(path, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body),
                      headers: { 'content-type': 'application/json', ...headers } });

test('GET /health', async () => {
  const { status, body } = await herald.json('/health');
  assert.equal(status, 200);
  assert.equal(body.status, 'ok');
  assert.ok(body.journal_id);
});

test('POST /api/streams/{stream}: one event, many events, expected versions', async () => {
  let r = await post('/api/streams/chat:orders-1', { type: 'created', data: { total: 10 }, meta: { correlation: 'c1' } });
  assert.equal(r.status, 200);
  assert.equal(r.body.version, 1);
  const p1 = r.body.position;
  r = await post('/api/streams/chat:orders-1', { events: [{ type: 'paid', data: {} }, { type: 'shipped', data: { by: 'post' } }], expected_version: 1 });
  assert.equal(r.status, 200);
  assert.equal(r.body.version, 3);
  assert.equal(r.body.first_version, 2);
  assert.equal(r.body.position, p1 + 2);
  // The header works too; the field wins over it.
  r = await post('/api/streams/chat:orders-1', { type: 'noted', data: {} }, { 'Expected-Version': '3' });
  assert.equal(r.status, 200);
  r = await post('/api/streams/chat:orders-1', { type: 'noted', data: {} }, { 'Expected-Version': '1' });
  assert.equal(r.status, 409);
  assert.equal(r.body.error.code, 'wrong_expected_version');
  assert.equal(r.body.error.actual_version, 4);
  r = await post('/api/streams/chat:orders-1', { type: 'x', data: {}, expected_version: 'no_stream' });
  assert.equal(r.status, 409);
  r = await post('/api/streams/chat:orders-2', { type: 'x', data: {}, expected_version: 'exists' });
  assert.equal(r.status, 409);
  assert.equal(r.body.error.actual_version, 0);
  r = await post('/api/streams/chat:orders-2', { type: 'x', data: {}, expected_version: 'no_stream' });
  assert.equal(r.status, 200);
});

test('POST with an event id is idempotent', async () => {
  const event = { type: 'created', id: 'evt-42', data: { a: 1 } };
  const first = await post('/api/streams/chat:idem', event);
  const again = await post('/api/streams/chat:idem', event);
  assert.equal(first.status, 200);
  assert.equal(again.status, 200);
  assert.equal(again.body.position, first.body.position);
  assert.equal(again.body.idempotent, true);
  // Ids are scoped per stream: the same id elsewhere is another event, and in
  // the same stream with other data a conflict.
  const elsewhere = await post('/api/streams/chat:idem-other', event);
  assert.equal(elsewhere.status, 200);
  assert.notEqual(elsewhere.body.position, first.body.position);
  const changed = await post('/api/streams/chat:idem', { ...event, data: { a: 2 } });
  assert.equal(changed.status, 409);
  assert.equal(changed.body.error.code, 'duplicate_id');
});

test('POST rejects bad bodies with 400 and big ones with 413', async () => {
  for (const bad of ['not json', '[]', '{"type":""}', '{"type":5}', '{"events":[]}',
                     '{"type":"t","meta":[1]}', '{"type":"t","id":7}', '{"type":"t","expected_version":"maybe"}',
                     '{"type":"t","data":' + '['.repeat(100) + ']'.repeat(100) + '}']) {
    const r = await post('/api/streams/chat:bad', bad);
    assert.equal(r.status, 400, bad);
    assert.equal(r.body.error.code, 'bad_request');
    assert.ok(r.body.error.message.length > 0);
  }
  const big = await post('/api/streams/chat:bad', { type: 't', data: 'x'.repeat(10000) });
  assert.equal(big.status, 413);
  assert.equal(big.body.error.code, 'too_large');
  const reads = await herald.json('/api/streams/chat:bad');
  assert.equal(reads.body.version, 0); // nothing was written
});

test('GET /api/streams/{stream}: forward, backward, limits, percent-decoded names', async () => {
  for (let i = 1; i <= 5; i++) await post('/api/streams/chat%3Aread', { type: 'message', data: { i } });
  let r = await herald.json('/api/streams/chat%3Aread?from=2&limit=2');
  assert.equal(r.status, 200);
  assert.equal(r.body.stream, 'chat:read');
  assert.equal(r.body.version, 5);
  assert.ok(r.body.epoch);
  assert.deepEqual(r.body.events.map((e) => e.version), [2, 3]);
  const e = r.body.events[0];
  assert.deepEqual(Object.keys(e).sort(), ['data', 'id', 'meta', 'position', 'stream', 'time', 'type', 'version']);
  assert.deepEqual(e.data, { i: 2 });
  r = await herald.json('/api/streams/chat:read?reverse=1&limit=2');
  assert.deepEqual(r.body.events.map((e) => e.version), [5, 4]);
  r = await herald.json('/api/streams/chat:no-such-stream');
  assert.equal(r.status, 200);
  assert.equal(r.body.version, 0);
  assert.deepEqual(r.body.events, []);
  for (const bad of ['?from=x', '?limit=-1', '?reverse=2']) {
    r = await herald.json('/api/streams/chat:read' + bad);
    assert.equal(r.status, 400, bad);
  }
});

test('GET /api/events: the global log in pages', async () => {
  const r = await herald.json('/api/events?from=1&limit=3');
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.events.map((e) => e.position), [1, 2, 3]);
  assert.equal(r.body.next, 4);
  const rest = await herald.json('/api/events?from=' + r.body.next + '&limit=1000');
  assert.equal(rest.body.events[0].position, 4);
});

test('GET /api/events: an empty page says where to poll from', async () => {
  const all = await herald.json('/api/events?from=1&limit=1000');
  const next = all.body.next;
  assert.equal(next, all.body.events.at(-1).position + 1);
  let r = await herald.json(`/api/events?from=${next}`);
  assert.deepEqual(r.body, { events: [], next });
  r = await herald.json(`/api/events?from=${next + 1000}`);
  assert.deepEqual(r.body, { events: [], next: next + 1000 });
  const appended = await post('/api/streams/chat:poll', { type: 'message', data: {} });
  r = await herald.json(`/api/events?from=${next}`);
  assert.deepEqual(r.body.events.map((e) => e.position), [appended.body.position]);
  for (const from of ['9223372036854775808', '18446744073709551616', '-1'])
    assert.equal((await herald.json(`/api/events?from=${from}`)).status, 400, from);
});

test('POST without a type: data.type, else the namespace default_type, as for WebSocket publish', async () => {
  let r = await post('/api/streams/chat:typed', { data: { text: 'hi' } });
  assert.equal(r.status, 200);
  r = await post('/api/streams/chat:typed', { data: { type: 'joined' } });
  assert.equal(r.status, 200);
  r = await post('/api/streams/chat:typed', { events: [{}, { type: 'left', data: { type: 'ignored' } }] });
  assert.equal(r.status, 200);
  const events = (await herald.json('/api/streams/chat:typed')).body.events;
  assert.deepEqual(events.map((e) => e.type), ['message', 'joined', 'message', 'left']);
});

test('numbers come back as they were sent, compactly', async () => {
  const sent = '[1e20,1.5e-7,0.1,-0,123456789012345678,9223372036854775808,1E+300,2.0]';
  assert.equal((await post('/api/streams/chat:numbers', `{"type":"message","data":${sent}}`)).status, 200);
  const text = await (await herald.fetch('/api/streams/chat:numbers')).text();
  assert.ok(text.includes('"data":[1e20,1.5e-7,0.1,-0.0,123456789012345678,9223372036854775808,1e300,2.0]'), text);
  const data = JSON.parse(text).events[0].data;
  const expected = JSON.parse(sent);
  assert.equal(data.length, expected.length);
  data.forEach((v, i) => assert.ok(Object.is(v, expected[i]), `${v} vs ${expected[i]}`));
});

test('GET /api/queries/{name}: the chat demo read model', async () => {
  await post('/api/streams/chat:kitchen', { type: 'message', data: { author: 'ann', text: 'tea?' } });
  const head = (await post('/api/streams/chat:kitchen', { type: 'message', data: { author: 'bob', text: 'yes' } })).body.position;
  await until(async () => (await herald.json('/api/queries/rooms')).body.position >= head, 'projection');
  const rooms = await herald.json('/api/queries/rooms');
  const kitchen = rooms.body.rows.find((r) => r.room === 'kitchen');
  assert.equal(kitchen.messages, 2);
  assert.equal(kitchen.last_position, head);
  const msgs = await herald.json('/api/queries/messages?room=kitchen&limit=1');
  assert.deepEqual(msgs.body.rows.map((m) => [m.offset, m.author, m.text]), [[2, 'bob', 'yes']]);
  let r = await herald.json('/api/queries/messages');
  assert.equal(r.status, 400);
  assert.match(r.body.error.message, /missing parameter "room"/);
  r = await herald.json('/api/queries/messages?room=kitchen&limit=many');
  assert.equal(r.status, 400);
  r = await herald.json("/api/queries/messages?room=kitchen'%20OR%201=1");
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.rows, []);
  r = await herald.json('/api/queries/nope');
  assert.equal(r.status, 404);
  assert.equal(r.body.error.code, 'not_found');
});

test('GET /api/projections and POST rebuild', async () => {
  let r = await herald.json('/api/projections');
  assert.equal(r.status, 200);
  assert.equal(r.body[0].name, 'chat');
  assert.ok(['running', 'catching_up'].includes(r.body[0].status));
  assert.equal(typeof r.body[0].lag, 'number');
  const before = (await herald.json('/api/queries/rooms')).body.rows;
  r = await post('/api/projections/chat/rebuild', '');
  assert.equal(r.status, 202);
  assert.equal(r.body.status, 'rebuilding');
  await until(async () => (await herald.json('/api/projections/chat')).body.status === 'running', 'rebuild');
  assert.deepEqual((await herald.json('/api/queries/rooms')).body.rows, before);
  assert.equal((await herald.json('/api/projections/nope')).status, 404);
  assert.equal((await post('/api/projections/nope/rebuild', '')).status, 404);
  assert.equal((await herald.json('/api/projections/chat/rebuild')).status, 405);
});

test('GET /metrics: Prometheus text with the figures operators need', async () => {
  const res = await herald.fetch('/metrics');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/plain/);
  const text = await res.text();
  for (const name of ['herald_connections', 'herald_subscriptions', 'herald_publishes_total',
                      'herald_deliveries_total', 'herald_journal_head', 'herald_append_latency_seconds_bucket',
                      'herald_projection_lag{projection="chat"}'])
    assert.ok(text.includes(name), name);
  const head = Number(text.match(/^herald_journal_head (\d+)$/m)[1]);
  assert.ok(head > 10);
});

test('GET / serves the demo page; unknown paths are 404; path traversal finds nothing', async () => {
  const page = await herald.fetch('/');
  assert.equal(page.status, 200);
  assert.match(await page.text(), /herald chat/);
  assert.equal((await herald.fetch('/centrifuge.js')).status, 200);
  for (const path of ['/nope', '/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/api/nope'])
    assert.equal((await herald.fetch(path)).status, 404, path);
  const r = await herald.json('/health', { method: 'DELETE' });
  assert.equal(r.status, 405);
});
