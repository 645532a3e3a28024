// Hostile use of channels and tokens over WebSocket (issue 9, items 1, 7, 8
// and 11; docs/security.md): private ($) and user-limited (#) channels
// guarded on every command, not only on subscribe; the subscribe matrix of
// `subscribe` x channel kind; subscribe/unsubscribe churn; far-future token
// expiries; subscription tokens presented as connection tokens; escaped
// token text in the log; and why an anonymous client was refused.
//
// Three nodes: `herald` (the demo config plus keys and namespaces for each
// permission, a subscribe rate limit, debug logging), `churner` (no
// subscribe rate limit, few idle channels kept) and `closed` (no namespace
// allows anonymous clients).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Centrifuge } from 'centrifuge';
import WebSocket from 'ws';
import { Herald, until } from './lib/herald.mjs';
import { Keys, now } from './lib/jwt.mjs';
import { Raw } from './lib/raw.mjs';

const keys = new Keys();
const SUBSCRIBE_RATE = 20; // websocket.subscribe_rate on `herald`
const MAX_IDLE = 10; //       channels.max_idle on `churner`

const demo = readFileSync(new URL('../../config/herald.default.toml', import.meta.url), 'utf8');

function writeConfig(dir, name, text) {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

// The demo's `chat` lets anyone (anonymous too) publish, read history and
// presence: the channel rules alone must keep `$chat:...` private.
const mainConfig = (dir) => writeConfig(dir, 'channels.toml', `${demo}
[tokens]
hmac_secret = "${keys.secret}"

# User-limited, and otherwise open to anyone: only the # rule guards it.
[namespaces.dm]
anonymous = true
user_limited = true
subscribe = "any"
publish = "any"
history = "any"
presence = "any"

# One user-limited namespace per subscribe permission.
[namespaces.tdm]
user_limited = true
subscribe = "token"
publish = "any"
history = "any"

[namespaces.srv]
user_limited = true
subscribe = "server"
`);

const closedConfig = (dir) => writeConfig(dir, 'closed.toml', `
[tokens]
hmac_secret = "${keys.secret}"

[namespaces.members]
anonymous = false
subscribe = "any"
`);

const herald = new Herald([]);
const churner = new Herald(['--websocket.subscribe_rate=0', '--websocket.command_rate=0',
                            `--channels.max_idle=${MAX_IDLE}`]);
const closed = new Herald([]);

before(async () => {
  herald.args = ['--config', mainConfig(herald.dataDir), `--websocket.subscribe_rate=${SUBSCRIBE_RATE}`,
                 '--log-level=debug'];
  closed.args = ['--config', closedConfig(closed.dataDir)];
  await Promise.all([herald.start(), churner.start(), closed.start()]);
});

after(async () => {
  await Promise.all([herald.cleanup(), churner.cleanup(), closed.cleanup()]);
});

// -- helpers -------------------------------------------------------------------

let nextId = 100;

/// A raw client connected to `node` (with `token` if given).
async function connect(token, node = herald) {
  const c = new Raw(node.ws);
  await c.open();
  c.send(JSON.stringify({ connect: token ? { token } : {}, id: 1 }));
  const reply = await c.until((m) => m.id === 1);
  assert.ok(reply.connect, JSON.stringify(reply));
  return { c, client: reply.connect.client };
}

/// Sends one command and resolves with its reply.
async function call(c, method, body) {
  const id = ++nextId;
  c.send(JSON.stringify({ [method]: body, id }));
  return c.until((m) => m.id === id);
}

async function closedWith(c, code, reason) {
  const closed = await Promise.race([
    c.closed, new Promise((r) => setTimeout(() => r({ code: 'still open' }), 5000))]);
  assert.equal(closed.code, code, `close code (reason ${closed.reason})`);
  if (reason !== undefined) assert.equal(closed.reason, reason);
}

const user = (sub, more = {}) => ({ sub, exp: now() + 600, ...more });
const subToken = (sub, channel) => keys.token({ sub, channel, exp: now() + 600 });

/// An HS256 token over a payload written as text (JSON numbers JavaScript
/// cannot hold) and, optionally, a header of the test's own.
function rawToken(payload, header = '{"alg":"HS256","typ":"JWT"}') {
  const input = `${Buffer.from(header).toString('base64url')}.${Buffer.from(payload).toString('base64url')}`;
  return `${input}.${createHmac('sha256', keys.secret).update(input).digest('base64url')}`;
}

/// Every command that touches a channel, other than subscribe, as one
/// client may send it; each must be refused with 103.
const touches = (channel) => ({
  history: ['history', { channel, limit: -1 }],
  publish: ['publish', { channel, data: { text: 'intruder' } }],
  'rpc append': ['rpc', { method: 'append', data: { channel, type: 'message', data: { text: 'intruder' } } }],
  presence: ['presence', { channel }],
  presence_stats: ['presence_stats', { channel }],
});

/// `member` (subscribed) publishes a marker; resolves with the publications
/// it received since its last read, up to and including the marker.
/// Publications reach a subscriber in order, so anything an intruder got in
/// earlier is among them.
async function receivedUntilMarker(member, channel) {
  const marker = `marker-${Math.random()}`;
  const id = ++nextId;
  member.send(JSON.stringify({ publish: { channel, data: { text: marker } }, id }));
  const got = [];
  let replied = false;
  await member.until((m) => {
    if (m.id === id) {
      assert.ok(m.publish, JSON.stringify(m));
      replied = true;
    }
    if (m.push?.channel === channel && m.push.pub) got.push(m.push.pub.data.text);
    return replied && got.includes(marker);
  });
  return got;
}

// -- item 1: $ channels on every command -----------------------------------------

test('a $ channel: without its subscription token no command touches it, even where the namespace says "any"', async () => {
  const channel = '$chat:secret';
  const holder = await connect(keys.token(user('ann')));
  assert.ok((await call(holder.c, 'subscribe', { channel, token: subToken('ann', channel) })).subscribe);
  assert.ok((await call(holder.c, 'publish', { channel, data: { text: 'private words' } })).publish);

  const anonymous = await connect();
  const stranger = await connect(keys.token(user('eve')));
  for (const intruder of [anonymous, stranger]) {
    for (const [what, [method, body]] of Object.entries(touches(channel))) {
      const r = await call(intruder.c, method, body);
      assert.equal(r.error?.code, 103, `${what}: ${JSON.stringify(r)}`);
    }
    // A sub_refresh with a genuine token does not open it either: there is
    // no subscription to renew.
    const r = await call(intruder.c, 'sub_refresh', { channel, token: subToken('eve', channel) });
    assert.equal(r.error?.code, 103, JSON.stringify(r));
  }
  // Nothing the intruders sent reached the holder, nor the journal.
  assert.deepEqual((await receivedUntilMarker(holder.c, channel)).filter((t) => t === 'intruder'), []);
  const h = await call(holder.c, 'history', { channel, limit: -1 });
  assert.deepEqual(h.history.publications.map((p) => p.data.text).filter((t) => t === 'intruder'), []);

  // The holder keeps every right the token gave.
  assert.ok((await call(holder.c, 'presence', { channel })).presence);
  const appended = await call(holder.c, 'rpc', { method: 'append', data: { channel, type: 'message', data: { text: 'mine' } } });
  assert.ok(appended.rpc, JSON.stringify(appended));
  // Sent right behind its subscribe, an append waits for it and has its rights.
  const pipe = '$chat:pipelined';
  holder.c.send(`${JSON.stringify({ subscribe: { channel: pipe, token: subToken('ann', pipe) }, id: 7001 })}
${JSON.stringify({ rpc: { method: 'append', data: { channel: pipe, type: 'message', data: { text: 'at once' } } }, id: 7002 })}`);
  const piped = await holder.c.until((m) => m.id === 7002);
  assert.ok(piped.rpc, JSON.stringify(piped));
  for (const x of [holder, anonymous, stranger]) x.c.close();
});

test('a $ channel in the connection token (server-side) is open to that connection only', async () => {
  const channel = '$chat:granted';
  const granted = await connect(keys.token(user('gail', { channels: [channel] })));
  assert.ok((await call(granted.c, 'history', { channel })).history);
  assert.ok((await call(granted.c, 'publish', { channel, data: { text: 'server-side' } })).publish);
  const other = await connect(keys.token(user('gail')));
  assert.equal((await call(other.c, 'history', { channel })).error?.code, 103);
  granted.c.close();
  other.c.close();
});

// -- item 1: # channels on every command ----------------------------------------

test('a # channel: only the users it lists touch it, on every command', async () => {
  const channel = 'dm:room#alice,bob';
  const bob = await connect(keys.token(user('bob')));
  assert.ok((await call(bob.c, 'subscribe', { channel })).subscribe);
  const anonymous = await connect();
  const carl = await connect(keys.token(user('carl')));
  const alice = await connect(keys.token(user('alice')));
  for (const [who, intruder] of [['anonymous', anonymous], ['carl', carl]])
    for (const [what, [method, body]] of Object.entries(touches(channel))) {
      const r = await call(intruder.c, method, body);
      assert.equal(r.error?.code, 103, `${who} ${what}: ${JSON.stringify(r)}`);
    }
  // Alice is listed: with publish = "any" she needs no subscription.
  assert.ok((await call(alice.c, 'publish', { channel, data: { text: 'from alice' } })).publish);
  assert.ok((await call(alice.c, 'history', { channel })).history);
  assert.ok((await call(alice.c, 'presence_stats', { channel })).presence_stats);
  const got = await receivedUntilMarker(bob.c, channel);
  assert.deepEqual(got.slice(0, -1), ['from alice']);
  for (const x of [bob, anonymous, carl, alice]) x.c.close();
});

test('sub_refresh renews only what a subscription token admitted', async () => {
  const channel = 'dm:pair#alice,bob';
  const alice = await connect(keys.token(user('alice')));
  assert.ok((await call(alice.c, 'subscribe', { channel })).subscribe); // listed, no token
  const r = await call(alice.c, 'sub_refresh', { channel, token: subToken('alice', channel) });
  assert.equal(r.error?.code, 103, JSON.stringify(r));
  const vault = '$chat:renew';
  assert.ok((await call(alice.c, 'subscribe', { channel: vault, token: subToken('alice', vault) })).subscribe);
  assert.ok((await call(alice.c, 'sub_refresh', { channel: vault, token: subToken('alice', vault) })).sub_refresh);
  alice.c.close();
});

// -- item 8: the subscribe matrix ------------------------------------------------

test('subscribe = "token" or "server" with a # channel: a listed user still needs a token', async () => {
  const alice = await connect(keys.token(user('alice')));
  for (const ns of ['tdm', 'srv']) {
    const channel = `${ns}:x#alice`;
    const r = await call(alice.c, 'subscribe', { channel });
    assert.equal(r.error?.code, 103, `${ns} without a token: ${JSON.stringify(r)}`);
    const ok = await call(alice.c, 'subscribe', { channel, token: subToken('alice', channel) });
    assert.ok(ok.subscribe, `${ns} with a token: ${JSON.stringify(ok)}`);
  }
  // With subscribe = "any" the listed user needs none, an unlisted one is refused.
  assert.ok((await call(alice.c, 'subscribe', { channel: 'dm:y#alice' })).subscribe);
  assert.equal((await call(alice.c, 'subscribe', { channel: 'dm:y#bob' })).error?.code, 103);
  alice.c.close();
});

// -- item 7: churn ----------------------------------------------------------------

/// The node's live channel actors (the herald_channels gauge).
async function liveChannels(node) {
  const text = await (await node.fetch('/metrics')).text();
  const m = text.match(/^herald_channels (\d+)/m);
  assert.ok(m, text);
  return Number(m[1]);
}

/// Subscribes to a new channel and unsubscribes, over and over, for `ms`
/// or until closed; counts the replies.
async function churn(node, tag, ms) {
  const { c } = await connect(undefined, node);
  const counts = { ok: 0, refused: 0, other: 0, closed: null };
  c.closed.then((x) => { counts.closed = x; });
  const end = Date.now() + ms;
  for (let i = 0; Date.now() < end && !counts.closed; ++i) {
    const channel = `chat:churn-${tag}-${i}`;
    const id = ++nextId;
    c.send(`${JSON.stringify({ subscribe: { channel }, id })}\n${JSON.stringify({ unsubscribe: { channel }, id: id + 1 })}`);
    ++nextId;
    const r = await Promise.race([
      c.until((m) => m.id === id + 1 || (m.id === id && m.error)).catch(() => null),
      c.closed.then(() => null)]);
    if (!r) break;
    if (r.id === id + 1) ++counts.ok;
    else if (r.error.code === 111) ++counts.refused;
    else ++counts.other;
  }
  c.close();
  return counts;
}

test('a subscribe/unsubscribe loop over new channels leaves at most channels.max_idle idle channels', async () => {
  const base = await liveChannels(churner);
  let peak = 0;
  let running = true;
  const sampler = (async () => {
    while (running) {
      peak = Math.max(peak, await liveChannels(churner));
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const results = await Promise.all([0, 1, 2].map((n) => churn(churner, n, 2000)));
  running = false;
  await sampler;
  const subscribed = results.reduce((sum, r) => sum + r.ok, 0);
  console.log(`churn: ${subscribed} subscribes, at most ${peak} live channels`);
  assert.ok(subscribed > 5 * MAX_IDLE, `the loops made ${subscribed} channels (${JSON.stringify(results)})`);
  // Each loop holds at most a channel or two in flight; the rest stop as
  // soon as their subscriber leaves.
  assert.ok(peak <= base + MAX_IDLE + 3 * 3, `peak ${peak} live channels after ${subscribed} subscribes`);
  await until(async () => (await liveChannels(churner)) <= MAX_IDLE + base, 'idle channels to stop');
});

test('a connect/subscribe/disconnect loop over new channels leaves at most channels.max_idle idle channels', async () => {
  const base = await liveChannels(churner);
  let peak = 0;
  const loop = async (tag) => {
    for (let i = 0; i < 30; ++i) {
      const { c } = await connect(undefined, churner);
      const r = await call(c, 'subscribe', { channel: `chat:gone-${tag}-${i}` });
      assert.ok(r.subscribe, JSON.stringify(r));
      c.close();
      await c.closed;
      peak = Math.max(peak, await liveChannels(churner));
    }
  };
  await Promise.all([0, 1, 2].map(loop));
  console.log(`connection churn: 90 channels, at most ${peak} live`);
  assert.ok(peak <= base + MAX_IDLE + 3 * 3, `peak ${peak} live channels`);
  await until(async () => (await liveChannels(churner)) <= MAX_IDLE + base, 'idle channels to stop');
});

test('a subscribe flood over websocket.subscribe_rate: 111, then close 3013', async () => {
  const started = Date.now();
  const r = await churn(herald, 'flood', 5000);
  const seconds = (Date.now() - started) / 1000;
  assert.ok(r.refused > 0, JSON.stringify(r));
  assert.equal(r.other, 0, JSON.stringify(r));
  assert.equal(r.closed?.code, 3013, JSON.stringify(r));
  // A second's burst, then the rate.
  assert.ok(r.ok <= SUBSCRIBE_RATE * (1 + seconds) + 1, `${r.ok} subscribes in ${seconds} s`);
});

// -- item 8: tokens --------------------------------------------------------------

/// CPU seconds herald has used so far (user + system, from /proc).
function cpuSeconds(node) {
  const stat = readFileSync(`/proc/${node.proc.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in ticks
}

test('far-future exp (year 3000, near INT64_MAX): connected, answering, and not spinning', async () => {
  const tokens = [
    keys.token({ sub: 'future', exp: 32503680000 }),
    rawToken('{"sub":"future","exp":9223372036854775000}'),
    rawToken('{"sub":"future","exp":9223372036854775807}'),
    rawToken('{"sub":"future","expire_at":9223372036854775807}'),
  ];
  const clients = [];
  for (const t of tokens) {
    const c = new Raw(herald.ws);
    await c.open();
    c.send(JSON.stringify({ connect: { token: t }, id: 1 }));
    const reply = await c.until((m) => m.id === 1);
    assert.equal(reply.connect?.expires, true, JSON.stringify(reply));
    clients.push(c);
  }
  // Over a quiet second (the interval measured, not a wait for anything)
  // the node is mostly idle: a session whose expiry timer overflowed into
  // the past re-arms it without end and keeps a core busy.
  const cpu = cpuSeconds(herald);
  const started = Date.now();
  await new Promise((r) => setTimeout(r, 1500));
  const used = cpuSeconds(herald) - cpu;
  const wall = (Date.now() - started) / 1000;
  assert.ok(used < 0.4 * wall, `herald used ${used} s of CPU in ${wall} s`);
  for (const c of clients) {
    assert.ok((await call(c, 'presence_stats', { channel: 'chat:future' })).presence_stats);
    c.close();
  }
});

test('a subscription token is no connection token: connect and refresh close 3500', async () => {
  const c = new Raw(herald.ws);
  await c.open();
  c.send(JSON.stringify({ connect: { token: subToken('ann', '$chat:secret') }, id: 1 }));
  await closedWith(c, 3500, 'invalid token');
  const { c: d } = await connect(keys.token(user('ann')));
  d.send(JSON.stringify({ refresh: { token: subToken('ann', '$chat:secret') }, id: 2 }));
  await closedWith(d, 3500, 'invalid token');
});

test('a token\'s alg reaches the log escaped: no forged log lines', async () => {
  const forged = 'PS256\n[2099-01-01 00:00:00.000] [info] forged line\u001b[31m';
  const token = rawToken('{"sub":"x"}', JSON.stringify({ alg: forged, typ: 'JWT' }));
  const c = new Raw(herald.ws);
  await c.open();
  c.send(JSON.stringify({ connect: { token }, id: 1 }));
  await closedWith(c, 3500, 'invalid token');
  await until(() => herald.log.includes('PS256\\x0a'), 'the refusal in the log');
  assert.ok(!herald.log.includes('\n[2099-01-01'), 'a forged log line');
  assert.ok(!herald.log.includes('\u001b[31m'), 'a terminal escape');
});

// -- item 11: why an anonymous client was refused ------------------------------------

test('no token where no namespace allows anonymous clients: close 3500 "token required", logged', async () => {
  const c = new Raw(closed.ws);
  await c.open();
  c.send(JSON.stringify({ connect: {}, id: 1 }));
  await closedWith(c, 3500, 'token required');
  await until(() => /connection from 127\.0\.0\.1:\d+ refused with 3500 "token required"/.test(closed.log),
              'the refusal in the log');
  // A token without sub is no better.
  const d = new Raw(closed.ws);
  await d.open();
  d.send(JSON.stringify({ connect: { token: keys.token({ exp: now() + 60 }) }, id: 1 }));
  await closedWith(d, 3500, 'token required');
  // A user gets in.
  const { c: e } = await connect(keys.token(user('member')), closed);
  e.close();
});

test('the SDK without a token: disconnected with 3500 "token required", no reconnect', async () => {
  const events = [];
  const sdk = new Centrifuge(closed.ws, { websocket: WebSocket, minReconnectDelay: 50, maxReconnectDelay: 100 });
  sdk.on('connecting', (ctx) => events.push(['connecting', ctx.code]));
  const disconnected = new Promise((r) => sdk.once('disconnected', r));
  sdk.connect();
  const ctx = await disconnected;
  assert.equal(ctx.code, 3500);
  assert.equal(ctx.reason, 'token required');
  assert.equal(sdk.state, 'disconnected');
  // Only the first attempt: terminal codes never reconnect.
  assert.deepEqual(events.map(([e]) => e), ['connecting']);
  sdk.disconnect();
});
