// Authentication and permissions against the real binary (docs/security.md):
// connection tokens (HS256, RS256, ES256) made here with Node's crypto, the
// forgeries herald must refuse, every namespace permission allowed and
// denied, private ($) and user-limited (#) channels, subscription tokens,
// server-side subscriptions, refresh and expiry, and the REST API key.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Herald, until } from './lib/herald.mjs';
import { Keys, now } from './lib/jwt.mjs';
import { Raw } from './lib/raw.mjs';
import { Centrifuge } from 'centrifuge';
import WebSocket from 'ws';

const keys = new Keys();
const apiKey = 'e2e-api-key';
let herald;

// The chat demo plus namespaces for every permission rule and a query that
// is not public.
function config(dir) {
  const rsa = join(dir, 'rsa.pem');
  const ec = join(dir, 'ec.pem');
  writeFileSync(rsa, keys.rsaPublicPem);
  writeFileSync(ec, keys.ecPublicPem);
  const demo = readFileSync(new URL('../../config/herald.default.toml', import.meta.url), 'utf8');
  const file = join(dir, 'auth.toml');
  writeFileSync(file, `${demo}
[[query]]
name = "room_names"
projection = "chat"
public = false
sql = "SELECT room FROM rooms ORDER BY room"

[tokens]
hmac_secret = "${keys.secret}"
rsa_public_key = "${rsa}"
ecdsa_public_key = "${ec}"

[http]
api_key = "${apiKey}"

# Users only: any user may subscribe; subscribers publish and read.
[namespaces.members]
subscribe = "any"
publish = "subscriber"
history = "subscriber"
presence = "subscriber"

# Everything needs a subscription token.
[namespaces.vault]
subscribe = "token"
publish = "token"
history = "token"
presence = "token"

# Only the server publishes; clients get it through server-side subscriptions.
[namespaces.news]
subscribe = "server"
publish = "server"
history = "token"
presence = "off"

[namespaces.shut]
subscribe = "off"

[namespaces.dm]
user_limited = true
subscribe = "any"
publish = "subscriber"
history = "subscriber"
`);
  return file;
}

before(async () => {
  herald = new Herald([]);
  herald.args = ['--config', config(herald.dataDir), '--websocket.expiry_grace=1s'];
  await herald.start();
});

after(async () => { await herald.cleanup(); });

let nextId = 100;

/// A raw client that has sent connect (with `token` if given).
async function sendConnect(token, extra = {}) {
  const c = new Raw(herald.ws);
  await c.open();
  c.send(JSON.stringify({ connect: { ...(token ? { token } : {}), ...extra }, id: 1 }));
  return c;
}

/// As sendConnect, and resolves with the connect reply (or error) too.
async function connect(token, extra = {}) {
  const c = await sendConnect(token, extra);
  const reply = await c.until((m) => m.id === 1);
  return { c, reply };
}

/// Sends one command and resolves with its reply.
async function call(c, method, body) {
  const id = ++nextId;
  c.send(JSON.stringify({ [method]: body, id }));
  return c.until((m) => m.id === id);
}

async function closedWith(c, code) {
  const closed = await Promise.race([
    c.closed, new Promise((r) => setTimeout(() => r({ code: 'still open' }), 5000))]);
  assert.equal(closed.code, code, `close code (reason ${closed.reason})`);
}

const user = (sub, more = {}) => ({ sub, exp: now() + 600, ...more });

// -- connection tokens -------------------------------------------------------

for (const alg of ['HS256', 'RS256', 'ES256']) {
  test(`a valid ${alg} connection token connects as its user`, async () => {
    const { c, reply } = await connect(keys.token(user(`u-${alg}`, { info: { name: alg } }), alg));
    assert.ok(reply.connect?.client, JSON.stringify(reply));
    assert.equal(reply.connect.expires, true);
    assert.ok(reply.connect.ttl > 590 && reply.connect.ttl <= 600, JSON.stringify(reply));
    // The user and info are who the node thinks this is: presence shows them.
    assert.ok((await call(c, 'subscribe', { channel: 'members:room' })).subscribe);
    const p = await call(c, 'presence', { channel: 'members:room' });
    const me = p.presence.presence[reply.connect.client];
    assert.equal(me.user, `u-${alg}`);
    assert.deepEqual(me.conn_info, { name: alg });
    c.close();
  });
}

test('a token without exp never expires', async () => {
  const { c, reply } = await connect(keys.token({ sub: 'forever' }));
  assert.ok(reply.connect.client);
  assert.equal(reply.connect.expires, undefined);
  c.close();
});

test('an expired connection token gets 109 and the connection is unusable until reconnect', async () => {
  const { c, reply } = await connect(keys.token({ sub: 'late', exp: now() - 5 }));
  assert.equal(reply.error?.code, 109, JSON.stringify(reply));
  c.send(JSON.stringify({ subscribe: { channel: 'members:room' }, id: 2 }));
  await closedWith(c, 3501);
});

const refusedTokens = {
  'a wrong signature': () => keys.forged(user('mallory')),
  'a wrong RS256 signature': () => keys.forged(user('mallory'), 'RS256'),
  'a wrong ES256 signature': () => keys.forged(user('mallory'), 'ES256'),
  'alg none': () => Keys.none(user('mallory')),
  'an RSA public key used as HMAC secret (algorithm confusion)': () => keys.confused(user('mallory')),
  'a secret of another application': () => keys.token(user('mallory'), 'HS256', { secret: 'guess' }),
  'an unsupported algorithm': () => {
    const [, p, s] = keys.token(user('mallory')).split('.');
    return `${Buffer.from('{"alg":"PS256","typ":"JWT"}').toString('base64url')}.${p}.${s}`;
  },
  'garbage': () => 'not.a.jwt',
  'two parts only': () => keys.token(user('mallory')).split('.').slice(0, 2).join('.'),
  'an exp that is a string': () => keys.token({ sub: 'mallory', exp: 'tomorrow' }),
  'a sub that is a number': () => keys.token({ sub: 42, exp: now() + 60 }),
  'channels that is not a list': () => keys.token({ sub: 'mallory', channels: 'news:x' }),
  'a token not valid yet (nbf)': () => keys.token({ sub: 'mallory', nbf: now() + 3600 }),
};
for (const [name, make] of Object.entries(refusedTokens)) {
  test(`a connection token with ${name} is refused with close 3500`, async () => {
    await closedWith(await sendConnect(make()), 3500);
  });
}

test('refused tokens are counted in herald_auth_failures_total', async () => {
  const text = await (await herald.fetch('/metrics')).text();
  const n = Number(text.match(/^herald_auth_failures_total (\d+)/m)?.[1]);
  assert.ok(n >= Object.keys(refusedTokens).length, text);
});

test('a token without sub connects anonymously: anonymous namespaces only', async () => {
  const { c, reply } = await connect(keys.token({ exp: now() + 60 }));
  assert.ok(reply.connect.client);
  assert.ok((await call(c, 'subscribe', { channel: 'chat:open' })).subscribe);
  assert.equal((await call(c, 'subscribe', { channel: 'members:room' })).error?.code, 103);
  c.close();
});

// -- namespace permissions ---------------------------------------------------

test('anonymous clients: allowed in anonymous namespaces, 103 elsewhere', async () => {
  const { c } = await connect();
  assert.ok((await call(c, 'subscribe', { channel: 'chat:a' })).subscribe);
  assert.ok((await call(c, 'publish', { channel: 'chat:a', data: { text: 'hi' } })).publish);
  assert.ok((await call(c, 'history', { channel: 'chat:a', limit: 5 })).history);
  assert.ok((await call(c, 'presence', { channel: 'chat:a' })).presence);
  for (const ch of ['members:a', 'vault:a', 'news:a', 'dm:a#anna'])
    assert.equal((await call(c, 'subscribe', { channel: ch })).error?.code, 103, ch);
  assert.equal((await call(c, 'publish', { channel: 'members:a', data: {} })).error?.code, 103);
  c.close();
});

test('unknown namespaces get 102', async () => {
  const { c } = await connect(keys.token(user('ann')));
  for (const method of ['subscribe', 'history', 'presence'])
    assert.equal((await call(c, method, { channel: 'nowhere:x' })).error?.code, 102, method);
  assert.equal((await call(c, 'publish', { channel: 'nowhere:x', data: {} })).error?.code, 102);
  c.close();
});

test('subscriber permissions: publish, history and presence only once subscribed', async () => {
  const { c } = await connect(keys.token(user('ann')));
  assert.equal((await call(c, 'publish', { channel: 'members:r', data: { n: 1 } })).error?.code, 103);
  assert.equal((await call(c, 'history', { channel: 'members:r' })).error?.code, 103);
  assert.equal((await call(c, 'presence', { channel: 'members:r' })).error?.code, 103);
  assert.equal((await call(c, 'presence_stats', { channel: 'members:r' })).error?.code, 103);
  assert.ok((await call(c, 'subscribe', { channel: 'members:r' })).subscribe);
  assert.ok((await call(c, 'publish', { channel: 'members:r', data: { n: 1 } })).publish);
  const h = await call(c, 'history', { channel: 'members:r', limit: 10 });
  assert.deepEqual(h.history.publications.map((p) => p.data), [{ n: 1 }]);
  assert.ok((await call(c, 'presence', { channel: 'members:r' })).presence);
  assert.ok((await call(c, 'presence_stats', { channel: 'members:r' })).presence_stats);
  // Unsubscribed again, the rights go with the subscription.
  await call(c, 'unsubscribe', { channel: 'members:r' });
  assert.equal((await call(c, 'publish', { channel: 'members:r', data: { n: 2 } })).error?.code, 103);
  c.close();
});

test('subscribe = "off" admits nobody, not even with a token', async () => {
  const { c } = await connect(keys.token(user('ann')));
  assert.equal((await call(c, 'subscribe', { channel: 'shut:x' })).error?.code, 103);
  const token = keys.token({ sub: 'ann', channel: 'shut:x', exp: now() + 60 });
  assert.equal((await call(c, 'subscribe', { channel: 'shut:x', token })).error?.code, 103);
  c.close();
});

test('token namespaces: 103 without a subscription token, everything with one', async () => {
  const { c } = await connect(keys.token(user('ann')));
  assert.equal((await call(c, 'subscribe', { channel: 'vault:v' })).error?.code, 103);
  assert.equal((await call(c, 'publish', { channel: 'vault:v', data: {} })).error?.code, 103);
  const token = keys.token({ sub: 'ann', channel: 'vault:v', exp: now() + 60 }, 'ES256');
  const s = await call(c, 'subscribe', { channel: 'vault:v', token });
  assert.equal(s.subscribe?.expires, true, JSON.stringify(s));
  assert.ok((await call(c, 'publish', { channel: 'vault:v', data: { x: 1 } })).publish);
  assert.ok((await call(c, 'history', { channel: 'vault:v' })).history);
  assert.ok((await call(c, 'presence', { channel: 'vault:v' })).presence);
  c.close();
});

test('server namespaces: clients may not subscribe or publish; the REST API may publish', async () => {
  const { c } = await connect(keys.token(user('ann')));
  assert.equal((await call(c, 'subscribe', { channel: 'news:n' })).error?.code, 103);
  assert.equal((await call(c, 'publish', { channel: 'news:n', data: {} })).error?.code, 103);
  const res = await herald.fetch('/api/streams/news:n', {
    method: 'POST', headers: { 'X-API-Key': apiKey }, body: JSON.stringify({ type: 'story', data: { s: 1 } }),
  });
  assert.equal(res.status, 200, await res.text());
  c.close();
});

// -- private and user-limited channels ---------------------------------------

test('private $ channels need a subscription token for this user and channel', async () => {
  const { c, reply } = await connect(keys.token(user('ann')));
  const channel = '$chat:secret';
  assert.equal((await call(c, 'subscribe', { channel })).error?.code, 103);
  const sub = (claims, alg) => call(c, 'subscribe', { channel, token: keys.token(claims, alg) });
  assert.equal((await sub({ sub: 'ann', channel, exp: now() - 1 })).error?.code, 109, 'expired');
  assert.equal((await call(c, 'subscribe', { channel, token: keys.forged({ sub: 'ann', channel }) })).error?.code,
               103, 'forged');
  assert.equal((await call(c, 'subscribe', { channel, token: 'junk' })).error?.code, 103, 'malformed');
  const ok = await sub({ sub: 'ann', channel, client: reply.connect.client, info: { role: 'a' } }, 'RS256');
  assert.ok(ok.subscribe, JSON.stringify(ok));
  c.close();
});

for (const [what, claims] of Object.entries({
  'another user': { sub: 'bob', channel: '$chat:secret' },
  'another channel': { sub: 'ann', channel: '$chat:other' },
  'another client': { sub: 'ann', channel: '$chat:secret', client: 'not-this-client' },
})) {
  test(`a subscription token for ${what} closes the connection with 3500`, async () => {
    const { c } = await connect(keys.token(user('ann')));
    c.send(JSON.stringify({ subscribe: { channel: '$chat:secret', token: keys.token(claims) }, id: 9 }));
    await closedWith(c, 3500);
  });
}

test('user-limited channels admit only the users after #', async () => {
  const channel = 'dm:talk#anna,ben';
  for (const [sub, code] of [['anna', null], ['ben', null], ['carl', 103], ['ann', 103], ['anna,ben', 103]]) {
    const { c } = await connect(keys.token(user(sub)));
    const r = await call(c, 'subscribe', { channel });
    if (code) assert.equal(r.error?.code, code, sub);
    else assert.ok(r.subscribe, `${sub}: ${JSON.stringify(r)}`);
    c.close();
  }
  // In a namespace without user_limited, '#' is an ordinary character.
  const { c } = await connect(keys.token(user('carl')));
  assert.ok((await call(c, 'subscribe', { channel: 'members:talk#anna' })).subscribe);
  c.close();
});

// -- server-side subscriptions -------------------------------------------------

test('channels in a connection token are server-side subscriptions, recovered on reconnect', async () => {
  const token = keys.token(user('reader', { channels: ['news:front', 'nowhere:skip'] }));
  const { c, reply } = await connect(token);
  const front = reply.connect.subs?.['news:front'];
  assert.ok(front, JSON.stringify(reply));
  assert.equal(reply.connect.subs['nowhere:skip'], undefined);
  const publish = (n) => herald.fetch('/api/streams/news:front', {
    method: 'POST', headers: { 'X-API-Key': apiKey }, body: JSON.stringify({ type: 'story', data: { n } }),
  });
  assert.equal((await publish(1)).status, 200);
  const push = await c.until((m) => m.push?.pub);
  assert.equal(push.push.channel, 'news:front');
  assert.deepEqual(push.push.pub.data, { n: 1 });
  // A server-side subscription may not be dropped or refreshed by the client.
  assert.equal((await call(c, 'sub_refresh', { channel: 'news:front', token: 'x' })).error?.code, 103);
  c.close();

  // Two publications while away; reconnecting with the position recovers them.
  assert.equal((await publish(2)).status, 200);
  assert.equal((await publish(3)).status, 200);
  const offset = push.push.pub.offset;
  const again = await connect(token, { subs: { 'news:front': { recover: true, offset, epoch: front.epoch } } });
  const sub = again.reply.connect.subs['news:front'];
  assert.equal(sub.recovered, true, JSON.stringify(again.reply));
  assert.deepEqual(sub.publications.map((p) => p.data), [{ n: 2 }, { n: 3 }]);
  again.c.close();
});

// -- refresh and expiry --------------------------------------------------------

test('a connection whose token expires is closed with 3005 after the grace', async () => {
  const { c, reply } = await connect(keys.token({ sub: 'brief', exp: now() + 1 }));
  assert.equal(reply.connect.expires, true);
  await closedWith(c, 3005);
});

test('refresh with a new token keeps the connection past the old expiry', async () => {
  const exp = now() + 1;
  const { c } = await connect(keys.token({ sub: 'kept', exp }));
  const r = await call(c, 'refresh', { token: keys.token({ sub: 'kept', exp: now() + 600 }, 'ES256') });
  assert.equal(r.refresh?.expires, true, JSON.stringify(r));
  assert.ok(r.refresh.ttl > 590);
  // The old expiry plus the 1 s grace passes; the connection still answers.
  await until(() => now() > exp + 2, 'the old expiry and grace to pass', 6000);
  assert.ok((await call(c, 'presence_stats', { channel: 'chat:x' })).presence_stats);
  c.close();
});

test('refresh with another user\'s token closes 3500; with an expired one 3005', async () => {
  const a = await connect(keys.token(user('kate')));
  a.c.send(JSON.stringify({ refresh: { token: keys.token(user('other')) }, id: 5 }));
  await closedWith(a.c, 3500);
  const b = await connect(keys.token(user('kate')));
  b.c.send(JSON.stringify({ refresh: { token: keys.token({ sub: 'kate', exp: now() - 1 }) }, id: 5 }));
  await closedWith(b.c, 3005);
});

test('an expiring subscription token: unsubscribe push 2501 unless sub_refresh renews it', async () => {
  const { c } = await connect(keys.token(user('sam')));
  const exp = now() + 1;
  const sub = (channel) => call(c, 'subscribe', { channel, token: keys.token({ sub: 'sam', channel, exp }) });
  assert.equal((await sub('vault:lapses')).subscribe?.expires, true);
  assert.ok((await sub('vault:renewed')).subscribe);
  const renewed = await call(c, 'sub_refresh', {
    channel: 'vault:renewed', token: keys.token({ sub: 'sam', channel: 'vault:renewed', exp: now() + 600 }),
  });
  assert.equal(renewed.sub_refresh?.expires, true, JSON.stringify(renewed));
  const push = await c.until((m) => m.push?.unsubscribe, 8000);
  assert.equal(push.push.channel, 'vault:lapses');
  assert.equal(push.push.unsubscribe.code, 2501);
  // The lapsed one lost its token rights; the renewed one kept them.
  assert.equal((await call(c, 'publish', { channel: 'vault:lapses', data: {} })).error?.code, 103);
  assert.ok((await call(c, 'publish', { channel: 'vault:renewed', data: {} })).publish);
  c.close();
});

// -- the SDK's token flows -----------------------------------------------------

test('the SDK fetches a new token on 109 and refreshes before expiry, staying connected', async () => {
  let fetched = 0;
  const disconnects = [];
  const c = new Centrifuge(herald.ws, {
    websocket: WebSocket, minReconnectDelay: 50, maxReconnectDelay: 200,
    token: keys.token({ sub: 'sdk', exp: now() - 10 }), // already expired: 109 first
    getToken: async () => { ++fetched; return keys.token({ sub: 'sdk', exp: now() + 2 }); },
  });
  c.on('disconnected', (ctx) => disconnects.push(ctx));
  const connected = new Promise((r) => c.once('connected', r));
  c.connect();
  const ctx = await connected;
  assert.equal(fetched, 1, 'getToken after 109');
  // A two-second token: the SDK refreshes it (getToken again) and the node
  // keeps the connection past the first token's expiry plus the grace.
  const firstExp = now() + 2;
  await until(() => fetched >= 3 && now() > firstExp + 2, 'two refreshes past the first expiry', 15000);
  assert.equal(c.state, 'connected');
  assert.equal(disconnects.length, 0, JSON.stringify(disconnects));
  assert.ok(ctx.client);
  c.disconnect();
});

test('the SDK gets a subscription token for a private channel and receives its publications', async () => {
  const c = new Centrifuge(herald.ws, {
    websocket: WebSocket, token: keys.token(user('sdk-sub')),
  });
  const sub = c.newSubscription('$chat:sdk', {
    getToken: async (ctx) => keys.token({ sub: 'sdk-sub', channel: ctx.channel, exp: now() + 600 }, 'RS256'),
  });
  const got = [];
  sub.on('publication', (ctx) => got.push(ctx.data));
  const subscribed = new Promise((r) => sub.once('subscribed', r));
  sub.subscribe();
  c.connect();
  await subscribed;
  await sub.publish({ text: 'private' });
  await until(() => got.length === 1, 'the private publication');
  assert.deepEqual(got, [{ text: 'private' }]);
  c.disconnect();
});

// -- the REST API key --------------------------------------------------------

test('REST writes, journal reads and admin calls need the API key', async () => {
  const post = (headers) => herald.fetch('/api/streams/chat:keyed', {
    method: 'POST', headers, body: JSON.stringify({ type: 'message', data: { text: 'k' } }),
  });
  const denied = await post({});
  assert.equal(denied.status, 401);
  assert.equal((await denied.json()).error.code, 'unauthorized');
  assert.ok(denied.headers.get('www-authenticate'));
  assert.equal((await post({ 'X-API-Key': 'wrong' })).status, 401);
  assert.equal((await post({ 'X-API-Key': apiKey })).status, 200);
  assert.equal((await post({ Authorization: `apikey ${apiKey}` })).status, 200);
  for (const path of ['/api/streams/chat:keyed', '/api/events', '/api/projections', '/api/queries/room_names'])
    assert.equal((await herald.fetch(path)).status, 401, path);
  const read = await herald.fetch('/api/streams/chat:keyed', { headers: { 'X-API-Key': apiKey } });
  assert.equal(read.status, 200);
  const rebuild = await herald.fetch('/api/projections/chat/rebuild', { method: 'POST' });
  assert.equal(rebuild.status, 401);
});

test('public queries, /health and /metrics stay open without the key', async () => {
  for (const path of ['/api/queries/rooms', '/api/queries/messages?room=keyed', '/health', '/metrics'])
    assert.equal((await herald.fetch(path)).status, 200, path);
  const keyed = await herald.fetch('/api/queries/room_names', { headers: { 'X-API-Key': apiKey } });
  assert.equal(keyed.status, 200);
});
