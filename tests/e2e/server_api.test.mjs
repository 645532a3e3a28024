// Centrifugo's server API (docs/rest.md, "Centrifugo server API") driven by
// a third-party client, cent.js from npm, while the real centrifuge SDK is
// connected: publish and broadcast reach subscribers, server-side
// subscribe / unsubscribe / disconnect / refresh reach the SDK, presence,
// history, channels, info, batch and cent.js's pipeline() (the legacy
// newline-delimited POST /api). Then the bad input, as raw requests, and
// the audit metadata of every append path read back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Centrifuge } from 'centrifuge';
import { CentClient, CentException } from 'cent.js';
import WebSocket from 'ws';
import { Herald, until } from './lib/herald.mjs';
import { Keys, now } from './lib/jwt.mjs';

const keys = new Keys();
const apiKey = 'e2e-server-api-key';
const herald = new Herald();
const clients = [];
let cent;

// The demo config, a token secret, the API key, and a namespace only the
// server publishes to.
function config(dir) {
  const demo = readFileSync(new URL('../../config/herald.default.toml', import.meta.url), 'utf8');
  const file = join(dir, 'server-api.toml');
  writeFileSync(file, `${demo}
[tokens]
hmac_secret = "${keys.secret}"

[http]
api_key = "${apiKey}"
api_key_name = "backend-1"

[namespaces.news]
anonymous = true
subscribe = "any"
publish = "server"
history = "any"
presence = "off"
`);
  return file;
}

before(async () => {
  herald.args = ['--config', config(herald.dataDir)];
  await herald.start();
  cent = new CentClient({ url: `${herald.url}/api`, apiKey });
});
after(async () => {
  for (const c of clients) c.disconnect();
  await herald.cleanup();
});

/// An SDK client of `user` (a token), or anonymous.
function client(user, opts = {}) {
  const token = user ? keys.token({ sub: user, exp: now() + 600 }) : undefined;
  const c = new Centrifuge(herald.ws, {
    websocket: WebSocket, minReconnectDelay: 50, maxReconnectDelay: 200, ...(token ? { token } : {}), ...opts,
  });
  clients.push(c);
  return c;
}

/// Resolves with the first `event` of `emitter`, or fails after 5 s.
function next(emitter, event, what = event) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${what} within 5 s`)), 5000);
    emitter.once(event, (ctx) => { clearTimeout(timer); resolve(ctx); });
  });
}

async function subscribed(c, channel) {
  const sub = c.newSubscription(channel);
  const pubs = [];
  sub.on('publication', (ctx) => pubs.push(ctx));
  sub.subscribe();
  c.connect();
  await sub.ready(5000);
  return { sub, pubs };
}

/// A raw call: status, headers and the body as text.
async function raw(path, { method = 'POST', body = '{}', headers = { 'X-API-Key': apiKey } } = {}) {
  const res = await herald.fetch(path, { method, body: method === 'GET' ? undefined : body, headers });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/// The error code a method call answers (HTTP 200 with {"error"}).
async function errorCode(path, body) {
  const r = await raw(path, { body: JSON.stringify(body) });
  assert.equal(r.status, 200, r.text);
  return JSON.parse(r.text).error?.code;
}

// -- publish and broadcast ---------------------------------------------------

test('publish via cent.js reaches the SDK subscriber, with tags; the result has offset and epoch', async () => {
  const c = client('alice');
  const { sub, pubs } = await subscribed(c, 'chat:api-pub');
  const r = await cent.publish({ channel: 'chat:api-pub', data: { text: 'from the backend' }, tags: { source: 'cron' } });
  assert.equal(r.offset, 1);
  assert.equal(typeof r.epoch, 'string');
  await until(() => pubs.length === 1, 'the publication');
  assert.deepEqual(pubs[0].data, { text: 'from the backend' });
  assert.equal(pubs[0].offset, 1);
  assert.equal(pubs[0].tags.source, 'cron');
  assert.equal(pubs[0].tags.type, 'message'); // herald's own tags stay
  // The epoch is the one subscribers recover against.
  const h = await sub.history({ limit: 0 });
  assert.equal(h.epoch, r.epoch);
});

test('the server API publishes where clients may not (publish = "server")', async () => {
  const c = client();
  const { sub, pubs } = await subscribed(c, 'news:front');
  await assert.rejects(sub.publish({ text: 'client' }), (e) => e.code === 103);
  const r = await cent.publish({ channel: 'news:front', data: { text: 'server' } });
  assert.equal(r.offset, 1);
  await until(() => pubs.length === 1, 'the server publication');
  assert.deepEqual(pubs[0].data, { text: 'server' });
});

test('idempotency_key is the event id: a retried publish is stored once and answers the same offset', async () => {
  const first = await cent.publish({ channel: 'chat:idem', data: { n: 1 }, idempotency_key: 'order-7' });
  const again = await cent.publish({ channel: 'chat:idem', data: { n: 1 }, idempotency_key: 'order-7' });
  assert.equal(again.offset, first.offset);
  const h = await cent.getHistory({ channel: 'chat:idem', limit: -1 });
  assert.equal(h.publications.length, 1);
  // The same key for other data is a conflict (113); cent.js throws.
  const other = { channel: 'chat:idem', data: { n: 2 }, idempotency_key: 'order-7' };
  await assert.rejects(cent.publish(other), CentException);
  assert.equal(await errorCode('/api/publish', other), 113);
});

test('broadcast publishes to every channel and answers per channel', async () => {
  const c = client();
  const a = await subscribed(c, 'chat:bc-a');
  const b = c.newSubscription('chat:bc-b');
  const bPubs = [];
  b.on('publication', (ctx) => bPubs.push(ctx));
  b.subscribe();
  await b.ready(5000);
  const r = await cent.broadcast({ channels: ['chat:bc-a', 'chat:bc-b', 'nowhere:x'], data: { all: true } });
  assert.equal(r.responses.length, 3);
  assert.equal(r.responses[0].result.offset, 1);
  assert.equal(r.responses[1].result.offset, 1);
  assert.equal(r.responses[2].error.code, 102);
  await until(() => a.pubs.length === 1 && bPubs.length === 1, 'both publications');
});

// -- server-side subscribe, unsubscribe, disconnect, refresh -------------------

test('subscribe via the API: the SDK gets a server-side subscription and its publications', async () => {
  const c = client('bob');
  const connected = next(c, 'connected');
  c.connect();
  await connected;
  const serverSubscribed = next(c, 'subscribed', 'server-side subscribed');
  assert.deepEqual(await cent.subscribe({ user: 'bob', channel: 'chat:bob-feed' }), {});
  const ctx = await serverSubscribed;
  assert.equal(ctx.channel, 'chat:bob-feed');
  const got = next(c, 'publication', 'server-side publication');
  await cent.publish({ channel: 'chat:bob-feed', data: { hello: 'bob' } });
  const pub = await got;
  assert.equal(pub.channel, 'chat:bob-feed');
  assert.deepEqual(pub.data, { hello: 'bob' });
  // The channel counts bob as a client.
  const list = await cent.getChannels({ pattern: 'chat:bob-*' });
  assert.deepEqual(Object.keys(list.channels), ['chat:bob-feed']);
  assert.equal(list.channels['chat:bob-feed'].num_clients, 1);
  // unsubscribe via the API ends it.
  const gone = next(c, 'unsubscribed', 'server-side unsubscribed');
  await cent.unsubscribe({ user: 'bob', channel: 'chat:bob-feed' });
  assert.equal((await gone).channel, 'chat:bob-feed');
  await until(async () => !(await cent.getChannels({ pattern: 'chat:bob-*' })).channels['chat:bob-feed'],
              'the channel to leave the list');
});

test('unsubscribe via the API ends a client-side subscription too (code 2000)', async () => {
  const c = client('carol');
  const { sub } = await subscribed(c, 'chat:carol-room');
  const ended = next(sub, 'unsubscribed');
  await cent.unsubscribe({ user: 'carol', channel: 'chat:carol-room' });
  const ctx = await ended;
  assert.equal(ctx.code, 2000);
  assert.equal(sub.state, 'unsubscribed');
});

test('disconnect via the API closes the user\'s connections with the code given, sparing the whitelist', async () => {
  const a = client('dave'), b = client('dave');
  for (const c of [a, b]) {
    const connected = next(c, 'connected');
    c.connect();
    await connected;
  }
  const spared = b._client; // the client id the server gave b
  assert.ok(spared);
  const closed = next(a, 'disconnected');
  await cent.disconnect({ user: 'dave', whitelist: [spared], disconnect: { code: 4501, reason: 'go away' } });
  const ctx = await closed;
  assert.equal(ctx.code, 4501);
  assert.equal(ctx.reason, 'go away');
  assert.equal(b.state, 'connected');
  // The default: 3503, "force disconnect", and the SDK does not come back.
  const closedB = next(b, 'disconnected');
  await cent.disconnect({ user: 'dave' });
  assert.equal((await closedB).code, 3503);
});

test('refresh via the API with expired: the SDK is disconnected as expired (3005) and reconnects', async () => {
  const c = client('erin', { getToken: async () => keys.token({ sub: 'erin', exp: now() + 600 }) });
  const connected = next(c, 'connected');
  c.connect();
  const first = await connected;
  const expired = next(c, 'connecting', 'connecting after expiry');
  await cent.refresh({ user: 'erin', expired: true });
  assert.equal((await expired).code, 3005);
  const back = await next(c, 'connected', 'the reconnect');
  assert.notEqual(back.client, first.client);
});

// -- presence, history, channels, info -----------------------------------------

test('presence and presence_stats list the SDK subscribers', async () => {
  const c = client('frank');
  await subscribed(c, 'chat:present');
  const p = await cent.getPresence({ channel: 'chat:present' });
  const infos = Object.values(p.presence);
  assert.equal(infos.length, 1);
  assert.equal(infos[0].user, 'frank');
  assert.equal(infos[0].client, c._client);
  assert.deepEqual(await cent.getPresenceStats({ channel: 'chat:present' }), { num_clients: 1, num_users: 1 });
  // presence = "off": 108.
  await assert.rejects(cent.getPresence({ channel: 'news:front' }), CentException);
  assert.equal(await errorCode('/api/presence', { channel: 'news:front' }), 108);
});

test('history: limit 0 is only the position, -1 everything, since and reverse', async () => {
  for (let i = 1; i <= 5; i++) await cent.publish({ channel: 'chat:hist', data: { i } });
  const top = await cent.getHistory({ channel: 'chat:hist' });
  assert.deepEqual(top.publications, []);
  assert.equal(top.offset, 5);
  const all = await cent.getHistory({ channel: 'chat:hist', limit: -1 });
  assert.deepEqual(all.publications.map((p) => p.data.i), [1, 2, 3, 4, 5]);
  assert.deepEqual(all.publications.map((p) => p.offset), [1, 2, 3, 4, 5]);
  const after2 = await cent.getHistory({ channel: 'chat:hist', limit: 2, since: { offset: 2, epoch: top.epoch } });
  assert.deepEqual(after2.publications.map((p) => p.offset), [3, 4]);
  const back = await cent.getHistory({ channel: 'chat:hist', limit: 2, reverse: true });
  assert.deepEqual(back.publications.map((p) => p.offset), [5, 4]);
  const stale = { channel: 'chat:hist', limit: 1, since: { offset: 1, epoch: 'other' } };
  await assert.rejects(cent.getHistory(stale), CentException);
  assert.equal(await errorCode('/api/history', stale), 112);
});

test('history_remove: the journal is immutable', async () => {
  const r = await raw('/api/history_remove', { body: JSON.stringify({ channel: 'chat:hist' }) });
  assert.equal(r.status, 200);
  const body = JSON.parse(r.text);
  assert.equal(body.error.code, 108);
  assert.match(body.error.message, /immutable/);
  await assert.rejects(cent.removeHistory({ channel: 'chat:hist' }));
  // Nothing was removed.
  assert.equal((await cent.getHistory({ channel: 'chat:hist' })).offset, 5);
});

test('info reports this node', async () => {
  const c = client('gina');
  const connected = next(c, 'connected');
  c.connect();
  await connected;
  const info = await cent.getInfo();
  assert.equal(info.nodes.length, 1);
  const node = info.nodes[0];
  assert.equal(node.name, 'herald');
  assert.ok(node.num_clients >= 1);
  assert.ok(node.num_users >= 1);
  assert.equal(typeof node.uptime, 'number');
});

// -- batch and the legacy line protocol ------------------------------------------

test('batch runs its commands in order and answers each', async () => {
  const r = await raw('/api/batch', { body: JSON.stringify({ commands: [
    { publish: { channel: 'chat:batch', data: { n: 1 } } },
    { publish: { channel: 'chat:batch', data: { n: 2 } } },
    { history: { channel: 'chat:batch', limit: -1 } },
    { nosuch: {} },
    { publish: { data: {} } },
    null,
  ] }) });
  assert.equal(r.status, 200);
  const { result } = JSON.parse(r.text);
  assert.equal(result.replies.length, 6);
  assert.equal(result.replies[0].publish.offset, 1);
  assert.equal(result.replies[1].publish.offset, 2);
  assert.deepEqual(result.replies[2].history.publications.map((p) => p.data.n), [1, 2]);
  assert.equal(result.replies[3].error.code, 104);
  assert.equal(result.replies[4].error.code, 107);
  assert.equal(result.replies[5].error.code, 107);
});

test('cent.js pipeline() posts newline-delimited commands to /api and gets one line each', async () => {
  const results = await cent.pipeline([
    { method: 'publish', params: { channel: 'chat:pipe', data: { n: 1 } } },
    { method: 'publish', params: { channel: 'chat:pipe', data: { n: 2 } } },
    { method: 'history', params: { channel: 'chat:pipe', limit: -1 } },
  ]);
  assert.equal(results.length, 3);
  assert.equal(results[0].offset, 1);
  assert.equal(results[1].offset, 2);
  assert.deepEqual(results[2].publications.map((p) => p.data.n), [1, 2]);
  // A bad line gets an error line; the others still run.
  const r = await raw('/api', { body: '{"method":"publish","params":{"channel":"chat:pipe","data":3}}\nnot json\n{"method":"nosuch"}' });
  assert.equal(r.status, 200);
  const lines = r.text.split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 3);
  assert.equal(lines[0].result.offset, 3);
  assert.equal(lines[1].error.code, 107);
  assert.equal(lines[2].error.code, 104);
});

// -- bad input -------------------------------------------------------------------

test('a missing or wrong key is 401 with an empty body; the key works in all three forms', async () => {
  for (const headers of [{}, { 'X-API-Key': 'wrong' }, { Authorization: 'apikey wrong' }]) {
    const r = await raw('/api/info', { headers });
    assert.equal(r.status, 401, JSON.stringify(headers));
    assert.equal(r.text, '');
  }
  assert.equal((await raw('/api', { headers: {} })).status, 401);
  assert.equal((await raw('/api/info', { headers: { Authorization: `apikey ${apiKey}` } })).status, 200);
  assert.equal((await raw(`/api/info?api_key=${apiKey}`, { headers: {} })).status, 200);
  assert.equal((await raw('/api/info?api_key=wrong', { headers: {} })).status, 401);
});

test('another method than POST is 405 with an empty body', async () => {
  const r = await raw('/api/publish', { method: 'GET' });
  assert.equal(r.status, 405);
  assert.equal(r.text, '');
  assert.equal(r.headers.get('allow'), 'POST');
  // Only a POST to /api is the legacy endpoint: a GET there is still the
  // REST API's unknown resource.
  const get = await raw('/api', { method: 'GET' });
  assert.equal(get.status, 404);
  assert.equal(JSON.parse(get.text).error.code, 'not_found');
  assert.equal((await raw('/api', { method: 'GET', headers: {} })).status, 401);
});

test('a body that is no JSON object is 400 with a 107 error', async () => {
  for (const body of ['{', '[1]', 'null', '{"channel":"chat:x","data":1} trailing']) {
    const r = await raw('/api/publish', { body });
    assert.equal(r.status, 400, body);
    assert.equal(JSON.parse(r.text).error.code, 107, body);
  }
});

test('an unknown method is 404; the REST resources are not shadowed', async () => {
  const r = await raw('/api/nosuch');
  assert.equal(r.status, 404);
  assert.equal(JSON.parse(r.text).error.code, 'not_found');
  // /api/events is the REST log, GET only, and answers as before.
  const events = await raw('/api/events');
  assert.equal(events.status, 405);
  assert.equal(JSON.parse(events.text).error.code, 'method_not_allowed');
  const log = await raw('/api/events?limit=1', { method: 'GET' });
  assert.equal(log.status, 200);
  assert.ok(Array.isArray(JSON.parse(log.text).events));
});

test('method errors are 200 with Centrifugo\'s error object', async () => {
  const cases = [
    ['/api/publish', { data: {} }, 107, /channel/],
    ['/api/publish', { channel: 'chat:x' }, 107, /data/],
    ['/api/publish', { channel: 'nowhere:x', data: {} }, 102, /unknown channel/],
    ['/api/publish', { channel: 'chat:x', data: {}, skip_history: true }, 107, /skip_history/],
    ['/api/publish', { channel: 'chat:x', b64data: 'aGk=' }, 107, /b64data/],
    ['/api/publish', { channel: 'chat:x', data: {}, tags: { type: 'x' } }, 107, /tags/],
    ['/api/publish', { channel: 'chat:' + 'x'.repeat(300), data: {} }, 107, /channel/],
    ['/api/history', { channel: 'nowhere:x' }, 102, /unknown channel/],
    ['/api/presence', {}, 107, /channel/],
    ['/api/subscribe', { channel: 'chat:x' }, 107, /user/],
    ['/api/subscribe', { user: 'u', channel: 'nowhere:x' }, 102, /unknown channel/],
    ['/api/disconnect', { user: 'u', disconnect: { code: 1000, reason: '' } }, 107, /code/],
    ['/api/history_remove', { channel: 'nowhere:x' }, 102, /unknown channel/],
  ];
  for (const [path, body, code, message] of cases) {
    const r = await raw(path, { body: JSON.stringify(body) });
    assert.equal(r.status, 200, `${path} ${JSON.stringify(body)}`);
    const { error } = JSON.parse(r.text);
    assert.equal(error?.code, code, `${path} ${JSON.stringify(body)}: ${r.text}`);
    assert.match(error.message, message);
  }
});

// -- audit metadata ------------------------------------------------------------------

async function lastMeta(stream) {
  const r = await raw(`/api/streams/${encodeURIComponent(stream)}?reverse=1&limit=1`, { method: 'GET' });
  assert.equal(r.status, 200, r.text);
  return JSON.parse(r.text).events[0].meta;
}

test('every event records who appended it: WebSocket, REST and the server API', async () => {
  // WebSocket: the user and client, via ws.
  const c = client('henry');
  const { sub } = await subscribed(c, 'chat:audit');
  await sub.publish({ text: 'by hand' });
  let meta = await lastMeta('chat:audit');
  assert.equal(meta.via, 'ws');
  assert.equal(meta.user, 'henry');
  assert.equal(meta.client, c._client);
  assert.equal(meta.key, undefined);
  // REST with the key: its name, never the key; correlation and causation.
  const rest = await raw('/api/streams/chat:audit', { body: JSON.stringify({
    type: 'note', data: {}, correlation_id: 'corr-1', causation_id: 'cause-1', meta: { tenant: 't1' } }) });
  assert.equal(rest.status, 200, rest.text);
  meta = await lastMeta('chat:audit');
  assert.deepEqual(meta, { tenant: 't1', correlation_id: 'corr-1', causation_id: 'cause-1', via: 'rest', key: 'backend-1' });
  assert.ok(!JSON.stringify(meta).includes(apiKey));
  // The server API: via api and the key's name.
  await cent.publish({ channel: 'chat:audit', data: { text: 'from the api' } });
  meta = await lastMeta('chat:audit');
  assert.deepEqual(meta, { via: 'api', key: 'backend-1' });
  // The global log shows the same.
  const log = JSON.parse((await raw('/api/events?from=1&limit=1000', { method: 'GET' })).text).events
    .filter((e) => e.stream === 'chat:audit');
  assert.deepEqual(log.map((e) => e.meta.via), ['ws', 'rest', 'api']);
  assert.equal(log[1].meta.correlation_id, 'corr-1');
});

test('REST appends may not forge the audit fields; bad ids are refused', async () => {
  for (const meta of [{ via: 'ws' }, { key: 'other' }, { processor: 'p' }, { correlation_id: 'c' }, { tags: {} }]) {
    const r = await raw('/api/streams/chat:audit-bad', { body: JSON.stringify({ type: 't', data: {}, meta }) });
    assert.equal(r.status, 400, JSON.stringify(meta));
    assert.match(JSON.parse(r.text).error.message, /may not set/);
  }
  for (const ids of [{ correlation_id: '' }, { correlation_id: 5 }, { causation_id: 'x'.repeat(300) }]) {
    const r = await raw('/api/streams/chat:audit-bad', { body: JSON.stringify({ type: 't', data: {}, ...ids }) });
    assert.equal(r.status, 400, JSON.stringify(ids));
    assert.match(JSON.parse(r.text).error.message, /correlation_id|causation_id/);
  }
});

test('without a key configured the server API is open to JSON callers, and records no key', async () => {
  const open = new Herald();
  try {
    await open.start();
    const keyless = new CentClient({ url: `${open.url}/api`, apiKey: '' });
    const r = await keyless.publish({ channel: 'chat:keyless', data: { n: 1 } });
    assert.equal(r.offset, 1);
    const read = await open.json('/api/streams/chat:keyless');
    assert.deepEqual(read.body.events[0].meta, { via: 'api' });
    // As for keyless REST: a browser's cross-site text/plain POST is refused.
    const res = await open.fetch('/api/publish', { method: 'POST', body: '{"channel":"chat:keyless","data":2}',
                                                    headers: { 'content-type': 'text/plain' } });
    assert.equal(res.status, 415);
  } finally {
    await open.cleanup();
  }
});
