// The REST attacks of issue 9 against the real binary, one case each: what a
// caller without the API key must not read or write ($ private and #
// user-limited channels, namespaces closed to anonymous clients, the global
// log), cross-site POSTs, a spoofed meta.user, positions past int64, typo
// namespaces, the type of an event that names none, and data that grows when
// rendered. The node is started with an API key to seed the private channels
// as the backend would, then restarted without one on the same data.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Herald, until } from './lib/herald.mjs';
import { Raw } from './lib/raw.mjs';
import { Centrifuge } from 'centrifuge';
import WebSocket from 'ws';

const API_KEY = 'bad-input-rest-key';
const MAX_DATA = 6 * 1024;
const SECRET = 'SECRET-TEXT';

function config(dir) {
  const demo = readFileSync(new URL('../../config/herald.default.toml', import.meta.url), 'utf8');
  const file = join(dir, 'rest.toml');
  writeFileSync(file, `${demo}
# Open to anonymous clients, but channels dm:NAME#u1,u2 only to their users.
[namespaces.dm]
anonymous = true
user_limited = true
publish = "any"
history = "any"

# Open to users only.
[namespaces.members]
publish = "any"
history = "any"

# Anonymous clients may write, only subscribers read.
[namespaces.notes]
anonymous = true
publish = "any"
history = "subscriber"

[namespaces.memo]
anonymous = true
publish = "any"
history = "any"
default_type = "memo"
`);
  return file;
}

const herald = new Herald([]);
const common = ['--config', config(herald.dataDir), `--websocket.max_data_bytes=${MAX_DATA}`,
                '--websocket.max_queued_bytes=16KiB', '--websocket.allowed_origins=https://app.example'];
const clients = [];
before(async () => {
  herald.args = [...common, `--http.api_key=${API_KEY}`];
  await herald.start();
});
after(async () => {
  for (const c of clients) c.disconnect();
  await herald.cleanup();
});

const JSON_TYPE = { 'content-type': 'application/json' };

async function call(path, { method = 'GET', body, headers = {} } = {}) {
  const res = await herald.fetch(path, { method, body: typeof body === 'object' ? JSON.stringify(body) : body, headers });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { assert.fail(`${path}: not JSON (${res.status}): ${text.slice(0, 200)}`); }
  assert.equal(res.headers.get('content-type'), 'application/json', path);
  return { status: res.status, body: json, text };
}

const post = (stream, body, headers = JSON_TYPE) =>
  call(`/api/streams/${encodeURIComponent(stream)}`, { method: 'POST', body, headers });
const read = (stream, query = '', headers = {}) => call(`/api/streams/${encodeURIComponent(stream)}${query}`, { headers });

function refused(r, status, code, what) {
  assert.equal(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
  assert.equal(r.body.error.code, code, what);
  assert.ok(r.body.error.message.length > 0, what);
}

async function head() {
  const text = await (await herald.fetch('/metrics')).text();
  return Number(text.match(/^herald_journal_head (\d+)$/m)[1]);
}

// Seeded by the backend while the key is configured.
const PRIVATE = ['$chat:secret', 'dm:room#alice,bob', 'members:m', 'notes:n'];
const publicPositions = [];

test('with the API key: the backend writes private channels; unknown namespaces are 404; meta cannot name a user', async () => {
  const key = { ...JSON_TYPE, 'x-api-key': API_KEY };
  for (const stream of PRIVATE) {
    const pub = await post('chat:public', { type: 'message', data: { text: 'hello' } }, key);
    assert.equal(pub.status, 200);
    publicPositions.push(pub.body.position);
    const r = await post(stream, { type: 'message', data: { text: `${SECRET} ${stream}` } }, key);
    assert.equal(r.status, 200, `${stream}: ${JSON.stringify(r.body)}`);
  }
  assert.equal((await read('$chat:secret', '', { 'x-api-key': API_KEY })).body.version, 1);
  // Item 10: a namespace the config does not have, even for the backend.
  for (const stream of ['todos:home', 'home', '$todos:home']) {
    refused(await post(stream, { type: 't', data: {} }, key), 404, 'unknown_channel', `POST ${stream}`);
    refused(await read(stream, '', { 'x-api-key': API_KEY }), 404, 'unknown_channel', `GET ${stream}`);
  }
  // Item 8: the publisher's identity is herald's to record, not the caller's.
  const before = await head();
  for (const key2 of ['user', 'client', 'conn_info', 'chan_info'])
    refused(await post('chat:public', { type: 'message', data: {}, meta: { [key2]: 'alice' } }, key), 400, 'bad_request',
            `meta.${key2}`);
  assert.equal(await head(), before);
});

test('without a key: no anonymous read or write of $ and # channels or of namespaces closed to anonymous clients', async () => {
  await herald.stop();
  herald.args = common;
  await herald.restart();
  const before = await head();
  for (const stream of PRIVATE) {
    const r = await read(stream);
    refused(r, 403, 'permission_denied', `GET ${stream}`);
    assert.ok(!r.text.includes(SECRET));
  }
  for (const stream of ['$chat:secret', 'dm:room#alice,bob', 'members:m'])
    refused(await post(stream, { type: 'message', data: { text: 'intruder' } }), 403, 'permission_denied', `POST ${stream}`);
  assert.equal(await head(), before); // nothing written
  // What anonymous clients may do, they may do over REST too.
  assert.equal((await post('notes:n', { type: 'message', data: { text: 'drop' } })).status, 200);
  assert.equal((await read('chat:public')).body.version, PRIVATE.length);
});

test('without a key: /api/events leaks nothing private and pages past what it hides', async () => {
  const top = await head();
  const all = await call('/api/events?from=1&limit=1000');
  assert.equal(all.status, 200);
  assert.ok(!all.text.includes(SECRET));
  assert.ok(all.body.events.every((e) => e.stream.startsWith('chat:')), JSON.stringify(all.body.events.map((e) => e.stream)));
  assert.deepEqual(all.body.events.filter((e) => e.stream === 'chat:public').map((e) => e.position), publicPositions);
  assert.equal(all.body.next, top + 1);
  // One event a page: the hidden ones give empty pages whose `next` goes on.
  const seen = [];
  let pages = 0;
  for (let from = 1; from <= top; pages++) {
    const page = await call(`/api/events?from=${from}&limit=1`);
    assert.equal(page.status, 200);
    assert.ok(page.body.events.length <= 1);
    assert.equal(page.body.next, from + 1, `from ${from}`);
    seen.push(...page.body.events.map((e) => e.position));
    from = page.body.next;
  }
  assert.equal(pages, top);
  assert.deepEqual(seen, all.body.events.map((e) => e.position));
  // Item 14: an empty page at the head says where to poll from.
  const empty = await call(`/api/events?from=${top + 1}`);
  assert.deepEqual(empty.body, { events: [], next: top + 1 });
});

test('without a key: cross-site POSTs (text/plain, forms, foreign Origin) are refused', async () => {
  const before = await head();
  const body = JSON.stringify({ type: 'message', data: { text: 'csrf' } });
  for (const type of ['text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded',
                      'multipart/form-data; boundary=b'])
    refused(await post('chat:public', body, { 'content-type': type }), 415, 'unsupported_media_type', type);
  refused(await post('chat:public', body, {}), 415, 'unsupported_media_type', 'no content type');
  refused(await post('chat:public', body, { ...JSON_TYPE, origin: 'https://evil.example' }), 403, 'forbidden', 'evil Origin');
  refused(await post('chat:public', body, { 'content-type': 'text/plain', origin: 'https://evil.example' }), 403, 'forbidden',
          'a text/plain form from an evil Origin');
  refused(await call('/api/projections/chat/rebuild', { method: 'POST', body: '', headers: { 'content-type': 'text/plain' } }),
          415, 'unsupported_media_type', 'rebuild');
  assert.equal(await head(), before);
  // The allowed origin, and tools that send no Origin, may write JSON.
  assert.equal((await post('chat:public', body, { ...JSON_TYPE, origin: 'https://app.example' })).status, 200);
  assert.equal((await post('chat:public', body, { 'content-type': 'Application/JSON; charset=utf-8' })).status, 200);
});

test('without a key: meta.user cannot spoof another user', async () => {
  const before = await head();
  refused(await post('chat:public', { type: 'message', data: { text: 'hi' }, meta: { user: 'admin' } }), 400, 'bad_request',
          'meta.user');
  refused(await post('chat:public', { events: [{ type: 'message', meta: { client: 'c' } }] }), 400, 'bad_request', 'meta.client');
  assert.equal(await head(), before);
});

test('positions past int64 are 400, not a read from the start', async () => {
  for (const q of ['from=9223372036854775808', 'from=18446744073709551615', 'limit=9223372036854775808', 'from=-1'])
    refused(await call(`/api/events?${q}`), 400, 'bad_request', q);
  refused(await read('chat:public', '?from=9223372036854775808'), 400, 'bad_request', 'stream from');
  assert.equal((await call('/api/events?from=9223372036854775807')).body.events.length, 0);
});

test('a typo namespace is 404 over REST, as it is 102 over WebSocket', async () => {
  const before = await head();
  for (const stream of ['todos:home', 'home', 'chat2:x'])
    refused(await post(stream, { type: 't', data: {} }), 404, 'unknown_channel', stream);
  refused(await read('todos:home'), 404, 'unknown_channel', 'GET');
  const raw = new Raw(herald.ws);
  await raw.open();
  raw.send(JSON.stringify({ connect: {}, id: 1 }));
  await raw.until((m) => m.id === 1);
  raw.send(JSON.stringify({ publish: { channel: 'todos:home', data: {} }, id: 2 }));
  assert.equal((await raw.until((m) => m.id === 2)).error.code, 102);
  raw.close();
  assert.equal(await head(), before);
});

test('an event without a type gets the type WebSocket gives it', async () => {
  assert.equal((await post('memo:a', { data: { text: 'plain' } })).status, 200);
  assert.equal((await post('memo:a', { data: { type: 'pinned', text: 'typed' } })).status, 200);
  assert.equal((await post('memo:a', { events: [{ data: 5 }, { type: 'given', data: { type: 'inner' } }] })).status, 200);
  const raw = new Raw(herald.ws);
  await raw.open();
  raw.send(JSON.stringify({ connect: {}, id: 1 }));
  await raw.until((m) => m.id === 1);
  raw.send(JSON.stringify({ publish: { channel: 'memo:a', data: { text: 'ws' } }, id: 2 }));
  assert.ok((await raw.until((m) => m.id === 2)).publish);
  raw.close();
  const events = (await read('memo:a')).body.events;
  assert.deepEqual(events.map((e) => e.type), ['memo', 'pinned', 'memo', 'given', 'memo']);
});

test('data is limited as subscribers receive it: 1e20 near the limit is served, over it 413, and subscribers stay', async () => {
  const c = new Centrifuge(herald.ws, { websocket: WebSocket, minReconnectDelay: 50, maxReconnectDelay: 200 });
  clients.push(c);
  const trouble = [];
  c.on('disconnected', (ctx) => trouble.push(`disconnected ${ctx.code}`));
  const got = [];
  const sub = c.newSubscription('chat:big');
  sub.on('publication', (ctx) => got.push(ctx.data));
  sub.on('unsubscribed', (ctx) => trouble.push(`unsubscribed ${ctx.code}`));
  sub.subscribe();
  c.connect();
  await sub.ready(5000);
  // 1200 x 1e20 renders as 6001 bytes; it used to render 23 bytes a number.
  const fits = `[${Array(1200).fill('1e20').join(',')}]`;
  assert.equal((await post('chat:big', `{"type":"message","data":${fits}}`)).status, 200);
  await until(() => got.length === 1, 'the publication near the limit');
  assert.deepEqual(got[0], JSON.parse(fits));
  const over = `[${Array(1300).fill('1e20').join(',')}]`;
  const r = await post('chat:big', `{"type":"message","data":${over}}`);
  refused(r, 413, 'too_large', '1e20 over the limit');
  assert.match(r.body.error.message, /max_data_bytes/);
  // 5201 bytes as sent, 6501 as rendered (1e1 renders 10.0): over the limit.
  const grows = `[${Array(1300).fill('1e1').join(',')}]`;
  assert.ok(grows.length < MAX_DATA);
  refused(await post('chat:big', `{"type":"message","data":${grows}}`), 413, 'too_large', 'data growing when rendered');
  refused(await post('chat:big', `{"events":[{"type":"a","data":1},{"type":"b","data":${over}}]}`), 413, 'too_large', 'a batch');
  // The same data over WebSocket: 106, the same limit.
  const raw = new Raw(herald.ws);
  await raw.open();
  raw.send(JSON.stringify({ connect: {}, id: 1 }));
  await raw.until((m) => m.id === 1);
  raw.send(`{"publish":{"channel":"chat:big","data":${grows}},"id":2}`);
  assert.equal((await raw.until((m) => m.id === 2)).error.code, 106);
  raw.close();
  assert.equal((await post('chat:big', { type: 'message', data: { text: 'after' } })).status, 200);
  await until(() => got.length === 2, 'the publication after the refusals');
  assert.deepEqual(got[1], { text: 'after' });
  assert.deepEqual(trouble, []);
  assert.equal(c.state, 'connected');
});
