// The bad-input suite: malformed, truncated, mistyped, huge, deep and
// hostile input against the real binary, over WebSocket, raw TCP and REST.
//
// Every case checks the exact reaction: a close code (docs/protocol.md, "Codes") with a
// non-empty, non-JSON reason, an error reply code (§9.2), or an HTTP status
// with a JSON error. After every case (afterEach) each node answers /health,
// and its bystander (the real SDK, subscribed from the start to a channel a
// steady REST publisher appends to all along) has received every
// acknowledged publication, in order, without ever losing its connection.
//
// Two nodes: `herald` with the rate limits off (the floods of valid
// commands and the cases sending hundreds of commands at once), and
// `limited` with small limits, short deadlines and an API key, for the
// cases about those.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Centrifuge } from 'centrifuge';
import WebSocket from 'ws';
import { Herald, until } from './lib/herald.mjs';
import { Raw } from './lib/raw.mjs';

const MAX_MESSAGE = 1024 * 1024; //  websocket.max_message_bytes
const MAX_DATA = 32 * 1024; //       websocket.max_data_bytes (the default)
const MAX_NAME = 255; //             channels.max_name_length (the default)
const MAX_BODY = 1024 * 1024; //     http.max_body_bytes (the default)
const HEADER_TIMEOUT = 300; //       http.header_timeout, ms
const IDLE_TIMEOUT = 5000; //        http.idle_timeout, ms
const herald = new Herald([
  '--websocket.max_message_bytes=1MiB',
  '--websocket.command_rate=0',
  '--websocket.publish_rate=0',
  `--http.header_timeout=${HEADER_TIMEOUT}ms`,
  `--http.idle_timeout=${IDLE_TIMEOUT}ms`,
]);

const CONNECT_TIMEOUT = 400; //      websocket.connect_timeout, ms
const PUBLISH_RATE = 5; //           websocket.publish_rate
const COMMAND_RATE = 40; //          websocket.command_rate
const MAX_SUBSCRIPTIONS = 4; //      websocket.max_subscriptions
const MAX_CONNECTIONS = 6; //        websocket.max_connections
const API_KEY = 'bad-input-key'; //  http.api_key
const limited = new Herald([
  `--websocket.connect_timeout=${CONNECT_TIMEOUT}ms`,
  `--websocket.publish_rate=${PUBLISH_RATE}`,
  `--websocket.command_rate=${COMMAND_RATE}`,
  `--websocket.max_subscriptions=${MAX_SUBSCRIPTIONS}`,
  `--websocket.max_connections=${MAX_CONNECTIONS}`,
  '--websocket.allowed_origins=https://app.example.com',
  '--websocket.max_queued_bytes=64KiB',
  // The slow-consumer case appends publications far larger than the queue
  // over REST, which holds them to this limit too (issue 9 item 4).
  '--websocket.max_data_bytes=1MiB',
  '--websocket.close_timeout=300ms',
  `--http.api_key=${API_KEY}`,
]);

// -- the bystanders and the steady publishers ---------------------------------

/// A bystander on `node`: the SDK subscribed to one channel, and a REST
/// publisher appending {n} to it one after another, paced to a steady
/// trickle (the floods are cases of their own). `acked` holds [offset, n]
/// of every append the node acknowledged, `received` what the bystander got,
/// `trouble` appends not acknowledged and any hiccup of the bystander.
class Bystander {
  constructor(node, channel, headers = {}) {
    Object.assign(this, { node, channel, headers, received: [], acked: [], trouble: [], publishing: true });
  }

  async start() {
    this.client = new Centrifuge(this.node.ws, { websocket: WebSocket });
    const sub = this.client.newSubscription(this.channel);
    sub.on('publication', (ctx) => this.received.push([ctx.offset, ctx.data.n]));
    await new Promise((resolve) => {
      sub.once('subscribed', resolve);
      sub.subscribe();
      this.client.connect();
    });
    // From here on the bystander must stay connected and subscribed.
    const note = (what) => (ctx) => this.trouble.push(`${what}: ${ctx.code} ${ctx.reason}`);
    this.client.on('connecting', note('bystander connecting'));
    this.client.on('disconnected', note('bystander disconnected'));
    this.client.on('error', (ctx) => this.trouble.push(`bystander error: ${JSON.stringify(ctx.error)}`));
    sub.on('subscribing', note('bystander resubscribing'));
    sub.on('unsubscribed', note('bystander unsubscribed'));
    this.publisher = this.publish();
  }

  async publish() {
    for (let n = 1; this.publishing; n++) {
      try {
        const res = await fetch(`${this.node.url}/api/streams/${this.channel}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...this.headers },
          body: JSON.stringify({ type: 'message', data: { n } }),
        });
        const body = await res.json();
        if (res.status === 200) this.acked.push([body.version, n]);
        else this.trouble.push(`append ${n}: ${res.status} ${JSON.stringify(body)}`);
      } catch (e) {
        this.trouble.push(`append ${n}: ${e.message}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 15)); // pacing, not synchronisation
    }
  }

  /// The node is healthy, still acknowledges appends, and the bystander has
  /// every acknowledged publication in order.
  async check({ moreAppends = true } = {}) {
    const health = await this.node.json('/health');
    assert.equal(health.status, 200);
    assert.equal(health.body.status, 'ok');
    if (moreAppends) {
      const next = this.acked.length + 1;
      await until(() => this.acked.length >= next || this.trouble.length > 0, 'an append acknowledged after the case');
    }
    assert.deepEqual(this.trouble, []);
    const want = this.acked.slice();
    await until(() => this.received.length >= want.length,
                `the bystander's publications (${this.received.length} of ${want.length})`);
    assert.deepEqual(this.received.slice(0, want.length), want);
  }

  async stop() {
    this.publishing = false;
    await this.publisher;
    await this.check({ moreAppends: false });
    this.client.disconnect();
  }
}

const bystanders = [new Bystander(herald, 'chat:bystander'), new Bystander(limited, 'chat:bystander', { 'x-api-key': API_KEY })];

before(async () => {
  await Promise.all([herald.start(), limited.start()]);
  await Promise.all(bystanders.map((b) => b.start()));
});

afterEach(async () => { for (const b of bystanders) await b.check(); });

after(async () => {
  try {
    for (const b of bystanders) {
      await b.stop();
      assert.ok(b.acked.length > 50, `only ${b.acked.length} appends during the suite`);
    }
    // No bad input reached the read model as something it could not fold.
    const projections = await herald.json('/api/projections');
    assert.equal(projections.status, 200);
    for (const p of projections.body) assert.notEqual(p.status, 'faulted', JSON.stringify(p));
  } finally {
    for (const b of bystanders) {
      b.publishing = false;
      if (b.client) b.client.disconnect();
    }
    await Promise.all([herald.cleanup(), limited.cleanup()]);
  }
});

// -- helpers -------------------------------------------------------------------

/// Rejects after `ms` (the timer does not keep the process alive).
function deadline(ms, what) {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms).unref());
}

async function opened(node = herald, options) {
  const c = new Raw(node.ws, options);
  await c.open();
  return c;
}

async function connected(node = herald) {
  const c = await opened(node);
  c.send('{"connect":{"name":"bad-input"},"id":1}');
  const reply = await c.until((m) => m.id === 1);
  assert.ok(reply.connect && reply.connect.client, JSON.stringify(reply));
  return c;
}

/// Waits for the server's close and checks its code; codes of the protocol
/// (3000 and up) carry a short, non-empty reason that is not JSON (§9.1).
async function closedWith(c, code, what) {
  const closed = await Promise.race([c.closed, deadline(5000, `close ${code}: ${what}`)]);
  assert.equal(closed.code, code, `${what}: closed with ${closed.code} "${closed.reason}"`);
  if (code >= 3000) {
    assert.ok(closed.reason.length > 0 && closed.reason.length <= 123, `${what}: reason "${closed.reason}"`);
    assert.throws(() => JSON.parse(closed.reason), undefined, `${what}: a JSON reason`);
  }
  return closed;
}

/// Sends `text` on a fresh connection (connected first unless `connect` is false) and
/// expects the close `code` with nothing answered.
async function closes(text, code, what, { connect = true, binary = false, node = herald } = {}) {
  const c = connect ? await connected(node) : await opened(node);
  c.ws.send(text, { binary });
  await closedWith(c, code, what);
  assert.deepEqual(c.frames.map((f) => f.text), [], `${what}: answered before closing`);
}

/// The replies to `ids`, by id (pushes go aside to `c.pushes`); fails on a
/// second reply to one.
async function replies(c, ids, ms = 10000) {
  c.pushes ||= [];
  const got = new Map();
  const end = Date.now() + ms;
  const missing = () => ids.filter((id) => !got.has(id));
  while (missing().length > 0) {
    const left = end - Date.now();
    if (left <= 0) throw new Error(`no reply to ${missing().slice(0, 10).join(', ')}`);
    for (const m of await c.messages(left)) {
      if (!m.id) {
        c.pushes.push(m);
        continue;
      }
      assert.ok(!got.has(m.id), `two replies to ${m.id}`);
      got.set(m.id, m);
    }
  }
  return got;
}

/// The first push satisfying `pred`, among those put aside or to come; the
/// others stay aside (several pushes often share one frame).
async function pushed(c, pred, ms = 5000) {
  c.pushes ||= [];
  const end = Date.now() + ms;
  for (;;) {
    const i = c.pushes.findIndex(pred);
    if (i >= 0) return c.pushes.splice(i, 1)[0];
    const left = end - Date.now();
    if (left <= 0) throw new Error('the push expected did not arrive');
    for (const m of await c.messages(left)) if (!m.id) c.pushes.push(m);
  }
}

/// Checks a reply: `expect` is an error code, or the method whose result
/// object the reply must carry.
function expectReply(reply, expect, what) {
  const text = `${what}: ${JSON.stringify(reply)}`;
  if (typeof expect === 'number') {
    assert.equal(reply.error && reply.error.code, expect, text);
    assert.ok(typeof reply.error.message === 'string' && reply.error.message.length > 0, text);
    // 100 and 111 are temporary (docs/protocol.md, "Codes"): the client retries them.
    assert.equal(reply.error.temporary, expect === 100 || expect === 111 ? true : undefined, text);
  } else {
    assert.equal(reply.error, undefined, text);
    assert.equal(typeof reply[expect], 'object', text);
  }
}

/// The current version of a stream, over REST.
async function streamVersion(stream, node = herald) {
  const headers = node === limited ? { 'x-api-key': API_KEY } : {};
  const r = await node.json(`/api/streams/${encodeURIComponent(stream)}`, { headers });
  assert.equal(r.status, 200);
  return r.body.version;
}

// Values of every JSON type, and numbers at every edge.
const VALUES = {
  string: '"x"',
  'empty string': '""',
  number: '7',
  zero: '0',
  true: 'true',
  false: 'false',
  null: 'null',
  array: '[1,"a"]',
  'empty array': '[]',
  object: '{"k":1}',
  'empty object': '{}',
  negative: '-1',
  float: '1.5',
  'integral float': '2.0',
  exponent: '1e2',
  'beyond uint32': '4294967296',
  'beyond int64': '9223372036854775808',
  'uint64 max': '18446744073709551615',
  'beyond uint64': '18446744073709551616',
  'huge integer': '123456789012345678901234567890',
  'huge float': '1e300',
  'below int64': '-9223372036854775809',
};
// Which of them each kind of field takes.
const KINDS = {
  string: ['string', 'empty string'],
  uint: ['number', 'zero', 'beyond uint32', 'beyond int64', 'uint64 max'],
  int: ['number', 'zero', 'negative', 'beyond uint32'],
  bool: ['true', 'false'],
  object: ['object', 'empty object'],
  none: [],
};
const wrongFor = (kind) => Object.keys(VALUES).filter((v) => !KINDS[kind].includes(v));

/// `template` as JSON with the raw JSON text `raw` where it says RAW.
const withRaw = (template, raw) => JSON.stringify(template).replace('"RAW"', raw);

// -- JSON ----------------------------------------------------------------------

// Not JSON, or not one command object per line: close 3501 "bad request".
const MALFORMED = [
  '', ' ', '\n\n', 'not json', '{', '}', '{}}', '{"connect":', '{"connect":{}', '{"connect":{},"id":1',
  '{"connect":{}}}', "{'connect':{},'id':1}", '{"connect":{},"id":1,}', '{connect:{},id:1}',
  '{"connect":{},"id":1}x', '{"connect":{},"id":1} {"id":2}', '[{"connect":{},"id":1}]', '"connect"', '42', 'null',
  'true', '{"connect":{},"id":01}', '{"connect":{"name":"\\x"},"id":1}', '{"connect":{"name":"a\u0001b"},"id":1}',
  '{"connect":{"name":"\\ud800"},"id":1}', '{"connect":{"n":NaN},"id":1}', '{"connect":{"n":Infinity},"id":1}',
  '{"connect":{"n":1e400},"id":1}', '{"connect":{"n":-},"id":1}', '{"connect":{"n":.5},"id":1}',
  '{"connect":{"n":+1},"id":1}', '/* hi */{"connect":{},"id":1}',
  '{"connect":{},"id":1}\n\u0000',
];

test('malformed JSON closes with 3501, before and after connect', async () => {
  for (const junk of MALFORMED) await closes(junk, 3501, `before connect: ${JSON.stringify(junk)}`, { connect: false });
  for (const junk of MALFORMED) {
    const line = junk.replace('"connect"', '"presence_stats"').replace('{}', '{"channel":"chat:m"}');
    await closes(line, 3501, `after connect: ${JSON.stringify(line)}`);
  }
});

test('truncated JSON closes with 3501 (or 1007 where the cut splits a character)', async () => {
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const cases = [
    [Buffer.from('{"connect":{"name":"js","version":"1.0","data":{"a":[1,2.5,"é",null,true]}},"id":1}'), false],
    [Buffer.from('{"publish":{"channel":"chat:trunc","data":{"t":"é😀","a":[1,-2.5e3,null,{"b":false}]}},"id":2}'), true],
  ];
  for (const [full, connect] of cases) {
    for (let cut = 1; cut < full.length; cut++) {
      const part = full.subarray(0, cut);
      let valid = true;
      try { utf8.decode(part); } catch { valid = false; }
      await closes(part, valid ? 3501 : 1007, `${part.toString()} (${cut} bytes)`, { connect });
    }
  }
  assert.equal(await streamVersion('chat:trunc'), 0);
});

test('a byte order mark before a command is ignored, as RFC 8259 §8.1 allows', async () => {
  const c = await opened();
  c.send('\ufeff{"connect":{},"id":1}');
  expectReply((await replies(c, [1])).get(1), 'connect', 'a BOM');
  c.close();
});

test('one bad line refuses the whole message: nothing of it is done', async () => {
  await closes('{"publish":{"channel":"chat:half","data":{}},"id":2}\n{"publish":{"channel":"chat:half"', 3501, 'a truncated second line');
  await closes('{"publish":{"channel":"chat:half","data":{}},"id":2}\n[]', 3501, 'an array line');
  assert.equal(await streamVersion('chat:half'), 0);
  // A command that closes (a second connect) ends the message: what came
  // before it is answered, what follows is not done.
  const c = await connected();
  c.send('{"unsubscribe":{"channel":"chat:half"},"id":2}\n{"connect":{},"id":3}\n{"publish":{"channel":"chat:half","data":{}},"id":4}');
  await closedWith(c, 3501, 'a second connect');
  const answered = c.frames.flatMap((f) => f.text.split('\n')).map((l) => JSON.parse(l));
  assert.deepEqual(answered, [{ id: 2, unsubscribe: {} }]);
  assert.equal(await streamVersion('chat:half'), 0);
  // Blank lines between commands are skipped (docs/protocol.md, "Connection rules").
  const d = await connected();
  d.send('\n{"presence_stats":{"channel":"chat:half"},"id":2}\n\n \r\n{"presence_stats":{"channel":"chat:half"},"id":3}\n');
  const got = await replies(d, [2, 3]);
  expectReply(got.get(2), 'presence_stats', 'blank lines');
  expectReply(got.get(3), 'presence_stats', 'blank lines');
  d.close();
});

// -- the envelope: ids and methods ---------------------------------------------

test('a bad id closes with 3501; every id from 1 to 2^32-1 is answered', async () => {
  // Ids are uint32 (docs/protocol.md, "Connection rules"), and 0 is no id.
  for (const v of Object.keys(VALUES).filter((k) => k !== 'number')) {
    await closes(`{"connect":{},"id":${VALUES[v]}}`, 3501, `connect with id ${v}`, { connect: false });
    await closes(`{"presence_stats":{"channel":"chat:ids"},"id":${VALUES[v]}}`, 3501, `id ${v}`);
  }
  // No id at all: only send and the pong {} go without one (docs/protocol.md, "Connection rules").
  await closes('{"connect":{}}', 3501, 'connect without an id', { connect: false });
  await closes('{"presence_stats":{"channel":"chat:ids"}}', 3501, 'presence_stats without an id');
  const c = await connected();
  c.send('{"presence_stats":{"channel":"chat:ids"},"id":4294967295}\n{"presence_stats":{"channel":"chat:ids"},"id":1}');
  const got = await replies(c, [4294967295, 1]);
  expectReply(got.get(4294967295), 'presence_stats', 'the largest id');
  expectReply(got.get(1), 'presence_stats', 'id 1 again');
  c.close();
});

const METHODS = ['connect', 'subscribe', 'unsubscribe', 'publish', 'presence', 'presence_stats', 'history', 'rpc',
                 'send', 'refresh', 'sub_refresh'];

test('a request that is not an object closes with 3501', async () => {
  for (const method of METHODS) {
    for (const v of ['string', 'number', 'true', 'null', 'array', 'empty array']) {
      const line = `{"${method}":${VALUES[v]},"id":2}`;
      await closes(line, 3501, line, { connect: method === 'connect' ? false : true });
    }
  }
});

test('unknown methods: 104; unknown fields in a request are ignored; two methods close', async () => {
  const c = await connected();
  c.send([
    '{"frobnicate":{},"id":2}',
    '{"frobnicate":5,"id":3}',
    '{"presence_stats":{"channel":"chat:unknown"},"id":4}',
    '{"presence_stats":{"channel":"chat:unknown","frobnicate":[]},"id":5}',
    '{"rpc":{"method":"frobnicate","data":{}},"id":6}',
    '{"rpc":{},"id":7}',
    '{"rpc":{"method":""},"id":8}',
    '{"presence_stats":{"channel":"chat:unknown","frobnicate":true},"id":9}',
    '{"id":10}', // no method: a pong, whatever its id; not answered
    '{"send":{"data":{"x":1}}}', // fire and forget: not answered
    '{"send":{"data":{"x":1}},"id":11}',
    '{"send":{}}',
    '{"presence_stats":{"channel":"chat:unknown"},"id":12}',
  ].join('\n'));
  const got = await replies(c, [2, 3, 4, 5, 6, 7, 8, 9, 12]);
  for (const id of [2, 3, 6, 7, 8]) expectReply(got.get(id), 104, `id ${id}`);
  assert.equal(got.get(2).error.message, 'method not found');
  for (const id of [4, 5, 9, 12]) expectReply(got.get(id), 'presence_stats', `id ${id}`);
  // The unanswered ones came before 12, so nothing more is on its way.
  assert.deepEqual(c.frames, []);
  c.send('{"subscribe":{"channel":"chat:unknown"},"publish":{"channel":"chat:unknown","data":{}},"id":13}');
  await closedWith(c, 3501, 'two methods');
  // A key beside the method is a second method, known or not.
  await closes('{"presence_stats":{"channel":"chat:unknown"},"frobnicate":{"x":1},"id":4}', 3501, 'an unknown key beside a method');
  await closes('{"frobnicate":[],"presence_stats":{"channel":"chat:unknown"},"id":5}', 3501, 'an unknown key before a method');
  await closes('{"frobnicate":{},"id":1}', 3501, 'an unknown method before connect', { connect: false });
  await closes('{"frobnicate":{}}', 3501, 'an unknown method without an id');
});

// -- every field of every command, every wrong type ------------------------------

// Each command's valid request (RAW marks the field under test), and per
// field its kind and what a wrong value gets: an error code, or the result
// method where herald has no use for the field and ignores it.
const FIELDS = [
  // subscribe (a new channel each, so that the ignored ones do not collide)
  ['subscribe', (i) => ({ channel: 'RAW' }), 'string', 107, 'channel'],
  ['subscribe', (i) => ({ channel: `chat:wt-${i}`, recover: 'RAW' }), 'bool', 107],
  ['subscribe', (i) => ({ channel: `chat:wt-${i}`, recover: true, offset: 'RAW' }), 'uint', 107],
  ['subscribe', (i) => ({ channel: `chat:wt-${i}`, recover: true, epoch: 'RAW' }), 'string', 107],
  ['subscribe', (i) => ({ channel: `chat:wt-${i}`, flag: 'RAW' }), 'uint', 107],
  ['subscribe', (i) => ({ channel: `chat:wt-${i}`, type: 'RAW' }), 'uint', 107],
  ['subscribe', (i) => ({ channel: `chat:wt-${i}`, token: 'RAW' }), 'string', 107],
  ['subscribe', (i) => ({ channel: `chat:wt-${i}`, positioned: 'RAW' }), 'bool', 'subscribe'],
  ['subscribe', (i) => ({ channel: `chat:wt-${i}`, recoverable: 'RAW' }), 'bool', 'subscribe'],
  ['subscribe', (i) => ({ channel: `chat:wt-${i}`, join_leave: 'RAW' }), 'bool', 'subscribe'],
  ['subscribe', (i) => ({ channel: `chat:wt-${i}`, delta: 'RAW' }), 'string', 'subscribe'],
  ['unsubscribe', () => ({ channel: 'RAW' }), 'string', 'unsubscribe'], // always succeeds (docs/protocol.md, "Commands")
  ['publish', () => ({ channel: 'RAW', data: {} }), 'string', 107, 'channel'],
  ['presence', () => ({ channel: 'RAW' }), 'string', 107, 'channel'],
  ['presence_stats', () => ({ channel: 'RAW' }), 'string', 107, 'channel'],
  ['history', () => ({ channel: 'RAW' }), 'string', 107, 'channel'],
  ['history', () => ({ channel: 'chat:wt-history', limit: 'RAW' }), 'int', 107],
  ['history', () => ({ channel: 'chat:wt-history', reverse: 'RAW' }), 'bool', 107],
  ['history', () => ({ channel: 'chat:wt-history', since: 'RAW' }), 'object', 107],
  ['history', () => ({ channel: 'chat:wt-history', since: { offset: 'RAW' } }), 'uint', 107],
  ['history', () => ({ channel: 'chat:wt-history', since: { offset: 0, epoch: 'RAW' } }), 'string', 107],
  ['rpc', () => ({ method: 'RAW' }), 'string', 107, 'method'],
  ['rpc', () => ({ method: 'append', data: { channel: 'RAW', type: 't', data: {} } }), 'string', 107, 'channel'],
  ['rpc', () => ({ method: 'append', data: { channel: 'chat:wt-rpc', type: 'RAW', data: {} } }), 'string', 107, 'type'],
  ['rpc', () => ({ method: 'append', data: { channel: 'chat:wt-rpc', type: 't', id: 'RAW', data: {} } }), 'string', 107],
  ['rpc', () => ({ method: 'append', data: { channel: 'chat:wt-rpc', type: 't', expected_version: 'RAW', data: {} } }), 'uint', 107, 'version'],
  ['refresh', () => ({ token: 'RAW' }), 'string', 107, 'token'],
  ['sub_refresh', () => ({ channel: 'RAW', token: 't' }), 'string', 107],
  ['sub_refresh', () => ({ channel: 'chat:wt', token: 'RAW' }), 'string', 107, 'token'],
];

test('every field of every command with a value of every wrong type', async () => {
  const c = await connected();
  const lines = [];
  const expected = new Map();
  let id = 2;
  for (const [method, template, kind, expect, rule] of FIELDS) {
    let values = wrongFor(kind);
    // Where a field also has rules beyond its type, values of the right type
    // that break them get the same answer.
    if (rule === 'channel') values = values.concat(['empty string']);
    if (rule === 'method') values = values.filter((v) => v !== 'empty string');
    if (rule === 'type' || rule === 'token') values = values.concat(['empty string']);
    for (const v of values) {
      const field = `${method} ${JSON.stringify(template(0)).replace('"RAW"', v)}`;
      lines.push(`{"${method}":${withRaw(template(id), VALUES[v])},"id":${id}}`);
      expected.set(id, [expect, field]);
      id++;
    }
  }
  c.send(lines.join('\n'));
  const got = await replies(c, [...expected.keys()]);
  const wrong = [];
  for (const [i, [expect, field]] of expected) {
    try { expectReply(got.get(i), expect, field); } catch (e) { wrong.push(e.message.split('\n')[0]); }
  }
  assert.deepEqual(wrong, []);
  // What was refused wrote nothing.
  assert.equal(await streamVersion('chat:wt-rpc'), 0);
  // The connection is still good.
  c.send('{"publish":{"channel":"chat:wt-rpc","data":{"fine":true}},"id":1000000}');
  expectReply((await replies(c, [1000000])).get(1000000), 'publish', 'a good publish after them');
  c.close();
});

test('a channel that cannot be served is refused before the other fields of its command are read', async () => {
  // The order of the checks: the channel's namespace (102) comes before a
  // malformed field (107) of subscribe, history and rpc append.
  const c = await connected();
  c.send([
    '{"subscribe":{"channel":"nowhere:a","recover":5},"id":2}',
    '{"history":{"channel":"nowhere:a","limit":"x"},"id":3}',
    '{"rpc":{"method":"append","data":{"channel":"nowhere:a","type":5}},"id":4}',
    '{"subscribe":{"channel":"chat:order","recover":5},"id":5}',
  ].join('\n'));
  const got = await replies(c, [2, 3, 4, 5]);
  expectReply(got.get(2), 102, 'subscribe to an unknown namespace with a malformed recover');
  expectReply(got.get(3), 102, 'history of an unknown namespace with a malformed limit');
  expectReply(got.get(4), 102, 'append to an unknown namespace with a malformed type');
  expectReply(got.get(5), 107, 'subscribe to a known namespace with a malformed recover');
  c.close();
});

test('connect: a token or subs of a wrong type close with 3501; fields herald has no use for are ignored', async () => {
  for (const v of wrongFor('string')) {
    await closes(`{"connect":{"token":${VALUES[v]}},"id":1}`, 3501, `connect token ${v}`, { connect: false });
  }
  for (const v of wrongFor('object')) {
    await closes(`{"connect":{"subs":${VALUES[v]}},"id":1}`, 3501, `connect subs ${v}`, { connect: false });
  }
  for (const field of ['name', 'version', 'headers', 'data']) {
    for (const v of Object.keys(VALUES)) {
      const c = await opened();
      c.send(`{"connect":{"${field}":${VALUES[v]}},"id":1}`);
      expectReply((await replies(c, [1])).get(1), 'connect', `connect ${field} ${v}`);
      c.close();
    }
  }
});

test('malformed tokens: connect and refresh close with 3500, subscribe gets 103', async () => {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const tokens = {
    'not a JWT': 'x',
    'three empty parts': '..',
    'three junk parts': 'a.b.c',
    'alg none': `${b64({ alg: 'none' })}.${b64({ sub: '1' })}.`,
    'a signature for no key': `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: '1' })}.AAAA`,
    'a header that is not JSON': `${Buffer.from('{"alg":').toString('base64url')}.${b64({ sub: '1' })}.AAAA`,
    'claims that are not JSON': `${b64({ alg: 'HS256' })}.${Buffer.from('[[[').toString('base64url')}.AAAA`,
    'not base64': '!!!.???.***',
    'huge': `${b64({ alg: 'HS256' })}.${'A'.repeat(30000)}.AAAA`,
  };
  for (const [what, token] of Object.entries(tokens)) {
    await closes(JSON.stringify({ connect: { token }, id: 1 }), 3500, `connect: ${what}`, { connect: false });
    await closes(JSON.stringify({ refresh: { token }, id: 2 }), 3500, `refresh: ${what}`);
  }
  const c = await connected();
  const ids = Object.values(tokens).map((_, i) => 10 + i);
  c.send(Object.values(tokens).map((token, i) => JSON.stringify({ subscribe: { channel: `chat:tok-${i}`, token }, id: 10 + i })).join('\n'));
  const got = await replies(c, ids);
  for (const id of ids) expectReply(got.get(id), 103, `subscribe: ${Object.keys(tokens)[id - 10]}`);
  c.close();
});

test('a tags filter or a subscription type herald does not have: 107 and 103', async () => {
  const c = await connected();
  c.send('{"subscribe":{"channel":"chat:tf","tf":{"op":1}},"id":2}\n{"subscribe":{"channel":"chat:tf","type":1},"id":3}');
  const got = await replies(c, [2, 3]);
  expectReply(got.get(2), 107, 'tf');
  expectReply(got.get(3), 103, 'type 1');
  c.close();
});

// -- data: every type, huge numbers, deep nesting, nested commands ---------------

test('publish data of every type comes back unchanged; huge numbers as JSON parses them', async () => {
  const c = await connected();
  const channel = 'chat:types';
  const raws = Object.values(VALUES).concat([
    '{"big":123456789012345678901234567890,"max":18446744073709551615,"min":-9223372036854775808,"f":0.1,"e":-1.5e-300}',
    '"line\\nbreak \\u2028 \\u0000 \\"quoted\\" é 😀"',
    '{"id":3,"connect":{}}', // a command as data is data
    '"{\\"connect\\":{},\\"id\\":1}\\n{\\"publish\\":{}}"',
  ]);
  c.send(`{"subscribe":{"channel":"${channel}"},"id":2}`);
  await replies(c, [2]);
  const ids = raws.map((_, i) => 10 + i);
  c.send(raws.map((raw, i) => `{"publish":{"channel":"${channel}","data":${raw}},"id":${ids[i]}}`).join('\n'));
  const pubs = [];
  const got = new Map();
  const end = Date.now() + 10000;
  while (got.size < ids.length || pubs.length < raws.length) {
    // Raw.messages parses each line: a raw newline inside a message fails here.
    for (const m of await c.messages(end - Date.now())) {
      if (m.id) got.set(m.id, m);
      else if (m.push && m.push.pub) pubs.push(m.push.pub);
    }
  }
  for (const id of ids) expectReply(got.get(id), 'publish', `publish ${raws[id - 10]}`);
  assert.deepEqual(pubs.map((p) => p.offset), raws.map((_, i) => i + 1));
  assert.deepEqual(pubs.map((p) => p.data), raws.map((r) => JSON.parse(r)));
  // And the same from history and from REST.
  c.send(`{"history":{"channel":"${channel}","limit":-1},"id":100}`);
  const history = (await replies(c, [100])).get(100).history;
  assert.deepEqual(history.publications.map((p) => p.data), raws.map((r) => JSON.parse(r)));
  const rest = await herald.json(`/api/streams/${channel}?limit=1000`);
  assert.deepEqual(rest.body.events.map((e) => e.data), raws.map((r) => JSON.parse(r)));
  c.close();
});

test('deep nesting: 50 levels are carried, 100000 levels close with 3501', async () => {
  const c = await connected();
  const deep50 = '['.repeat(50) + '1' + ']'.repeat(50);
  c.send(`{"publish":{"channel":"chat:deep","data":${deep50}},"id":2}`);
  expectReply((await replies(c, [2])).get(2), 'publish', '50 levels');
  c.send('{"history":{"channel":"chat:deep","limit":1},"id":3}');
  assert.deepEqual((await replies(c, [3])).get(3).history.publications[0].data, JSON.parse(deep50));
  c.close();
  const levels = 100000;
  const arrays = '['.repeat(levels) + ']'.repeat(levels);
  const objects = '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);
  await closes(`{"publish":{"channel":"chat:deep","data":${arrays}},"id":2}`, 3501, 'deep arrays in data');
  await closes(`{"publish":{"channel":"chat:deep","data":${objects}},"id":2}`, 3501, 'deep objects in data');
  await closes(`{"rpc":{"method":"append","data":{"channel":"chat:deep","type":"t","data":${arrays}}},"id":2}`, 3501, 'deep rpc data');
  await closes(`{"subscribe":{"channel":"chat:deep","data":${arrays}},"id":2}`, 3501, 'deep data in an ignored field');
  await closes(`{"connect":{"data":${objects}},"id":1}`, 3501, 'deep connect data', { connect: false });
  const nested = levels / 2; // 12 bytes a level: under websocket.max_message_bytes
  await closes(`{"connect":{},"id":1}\n${'{"id":1,"x":'.repeat(nested)}1${'}'.repeat(nested)}`, 3501, 'nested commands', { connect: false });
  assert.equal(await streamVersion('chat:deep'), 1);
});

test('commands on one channel take effect in order: a publish right after its subscribe reaches the subscriber', async () => {
  // A subscribe takes a round trip through the node; what follows it on
  // that channel waits for it, whatever else the connection sends meanwhile.
  const c = await connected();
  const n = 200;
  const lines = [];
  for (let i = 0; i < n; i++) {
    lines.push(`{"subscribe":{"channel":"chat:in-order-${i}"},"id":${10 + 3 * i}}`,
               `{"publish":{"channel":"chat:in-order-${i}","data":{"i":${i}}},"id":${11 + 3 * i}}`,
               `{"presence_stats":{"channel":"chat:in-order-${i}"},"id":${12 + 3 * i}}`);
  }
  c.send(lines.join('\n'));
  const got = await replies(c, Array.from({ length: 3 * n }, (_, k) => 10 + k));
  for (let i = 0; i < n; i++) {
    const sub = got.get(10 + 3 * i);
    expectReply(sub, 'subscribe', `subscribe ${i}`);
    assert.equal(sub.subscribe.offset, 0, `subscribe ${i} came after its publish`);
    expectReply(got.get(11 + 3 * i), 'publish', `publish ${i}`);
    assert.deepEqual(got.get(12 + 3 * i).presence_stats, { num_clients: 1, num_users: 1 }, `presence_stats ${i}`);
  }
  for (let i = 0; i < n; i++) await pushed(c, (m) => m.push && m.push.channel === `chat:in-order-${i}` && m.push.pub);
  // Unsubscribe, subscribe again and publish, all while the first subscribe is in flight.
  c.send(['{"subscribe":{"channel":"chat:in-order-again"},"id":2000}', '{"unsubscribe":{"channel":"chat:in-order-again"},"id":2001}',
          '{"subscribe":{"channel":"chat:in-order-again"},"id":2002}',
          '{"publish":{"channel":"chat:in-order-again","data":{"again":1}},"id":2003}'].join('\n'));
  const again = await replies(c, [2000, 2001, 2002, 2003]);
  for (const [id, method] of [[2000, 'subscribe'], [2001, 'unsubscribe'], [2002, 'subscribe'], [2003, 'publish']])
    expectReply(again.get(id), method, `${method} ${id}`);
  await pushed(c, (m) => m.push && m.push.channel === 'chat:in-order-again' && m.push.pub);
  c.close();
});

// -- names, sizes and limits ---------------------------------------------------

test('a channel name over channels.max_name_length: 107 for every command; one at the limit is served', async () => {
  const c = await connected();
  const long = `chat:${'x'.repeat(MAX_NAME - 4)}`; // one byte over
  const wide = `chat:${'é'.repeat(128)}`; //          fewer characters, more bytes
  const fits = `chat:${'y'.repeat(MAX_NAME - 5)}`;
  assert.equal(Buffer.byteLength(long), MAX_NAME + 1);
  assert.equal(Buffer.byteLength(fits), MAX_NAME);
  const lines = [];
  const expected = new Map();
  let id = 10;
  for (const name of [long, wide]) {
    for (const [method, body] of [
      ['subscribe', { channel: name }], ['publish', { channel: name, data: {} }], ['presence', { channel: name }],
      ['presence_stats', { channel: name }], ['history', { channel: name, limit: 1 }],
      ['rpc', { method: 'append', data: { channel: name, type: 't', data: {} } }],
    ]) {
      lines.push(JSON.stringify({ [method]: body, id }));
      expected.set(id++, [107, `${method} on ${Buffer.byteLength(name)} bytes`]);
    }
  }
  lines.push(JSON.stringify({ subscribe: { channel: fits }, id: 100 }), JSON.stringify({ publish: { channel: fits, data: { ok: 1 } }, id: 101 }));
  expected.set(100, ['subscribe', 'subscribe at the limit']).set(101, ['publish', 'publish at the limit']);
  c.send(lines.join('\n'));
  const got = await replies(c, [...expected.keys()]);
  for (const [i, [expect, what]] of expected) expectReply(got.get(i), expect, what);
  const pub = await pushed(c, (m) => m.push && m.push.pub);
  assert.equal(pub.push.channel, fits);
  // A NUL inside a name is part of it: not cut off, not another channel's.
  c.send(JSON.stringify({ publish: { channel: 'chat:nul\u0000x', data: { nul: true } }, id: 200 }));
  expectReply((await replies(c, [200])).get(200), 'publish', 'a name with a NUL');
  assert.equal(await streamVersion('chat:nul'), 0);
  c.close();
  const rest = await herald.json(`/api/streams/${encodeURIComponent(long)}`,
                                 { method: 'POST', body: '{"type":"t"}', headers: { 'content-type': 'application/json' } });
  assert.equal(rest.status, 400);
  assert.equal(await streamVersion(fits), 1);
});

test('data over websocket.max_data_bytes: 106 for publish and rpc append; data at the limit is served', async () => {
  const c = await connected();
  const channel = 'chat:big-data';
  const data = (bytes) => JSON.stringify('x'.repeat(bytes - 2)); // a JSON string of `bytes` bytes
  c.send([
    `{"publish":{"channel":"${channel}","data":${data(MAX_DATA + 1)}},"id":2}`,
    `{"publish":{"channel":"${channel}","data":{"a":${data(MAX_DATA)}}},"id":3}`,
    `{"rpc":{"method":"append","data":{"channel":"${channel}","type":"t","data":${data(MAX_DATA + 1)}}},"id":4}`,
    `{"publish":{"channel":"${channel}","data":${data(MAX_DATA)}},"id":5}`,
    // Whitespace does not count: data is measured as compact JSON.
    `{"publish":{"channel":"${channel}","data":[${' '.repeat(MAX_DATA)}1 , 2 ]},"id":6}`,
  ].join('\n'));
  const got = await replies(c, [2, 3, 4, 5, 6]);
  for (const id of [2, 3, 4]) expectReply(got.get(id), 106, `data over the limit (${id})`);
  assert.equal(got.get(2).error.message, 'limit exceeded');
  expectReply(got.get(5), 'publish', 'data of exactly the limit');
  expectReply(got.get(6), 'publish', 'data with whitespace');
  assert.equal(await streamVersion(channel), 2);
  c.close();
});

test('more subscriptions than websocket.max_subscriptions: 106; unsubscribing makes room', async () => {
  const c = await connected(limited);
  const n = MAX_SUBSCRIPTIONS + 2;
  const ids = Array.from({ length: n }, (_, i) => 10 + i);
  c.send(ids.map((id, i) => `{"subscribe":{"channel":"chat:many-${i}"},"id":${id}}`).join('\n'));
  let got = await replies(c, ids);
  ids.forEach((id, i) => expectReply(got.get(id), i < MAX_SUBSCRIPTIONS ? 'subscribe' : 106, `subscription ${i + 1}`));
  c.send([
    '{"unsubscribe":{"channel":"chat:many-0"},"id":20}',
    `{"subscribe":{"channel":"chat:many-${MAX_SUBSCRIPTIONS}"},"id":21}`,
    `{"subscribe":{"channel":"chat:many-${MAX_SUBSCRIPTIONS + 1}"},"id":22}`,
    // Subscribing again to a channel held does not count twice.
    '{"subscribe":{"channel":"chat:many-1"},"id":23}',
  ].join('\n'));
  got = await replies(c, [20, 21, 22, 23]);
  expectReply(got.get(20), 'unsubscribe', 'unsubscribe');
  expectReply(got.get(21), 'subscribe', 'a subscription in the room made');
  expectReply(got.get(22), 106, 'one more');
  expectReply(got.get(23), 105, 'a channel held already');
  c.close();
});

test('no connect within websocket.connect_timeout: close 3502; a client that connected stays', async () => {
  const started = Date.now();
  const good = await connected(limited);
  const silent = await opened(limited);
  const half = await opened(limited);
  half.ws.send('{"connect":{', { fin: false }); // half a message is no connect
  const slow = await opened(limited);
  slow.ws.send('{"connect":{}', { fin: false }); // nor is a message never finished
  for (const [c, what] of [[silent, 'nothing sent'], [half, 'half a connect'], [slow, 'an unfinished message']]) {
    const { reason } = await closedWith(c, 3502, what);
    assert.equal(reason, 'stale');
  }
  const took = Date.now() - started;
  assert.ok(took >= CONNECT_TIMEOUT - 50 && took < CONNECT_TIMEOUT + 1500, `closed after ${took} ms`);
  good.send('{"presence_stats":{"channel":"chat:stale"},"id":2}');
  expectReply((await replies(good, [2])).get(2), 'presence_stats', 'the client that connected in time');
  good.close();
});

test('more connections than websocket.max_connections: close 3504; a closed one makes room', async () => {
  const held = [];
  let refused;
  try {
    // The bystander holds one already.
    while (!refused && held.length <= MAX_CONNECTIONS) {
      const c = await opened(limited);
      c.send('{"connect":{},"id":1}');
      const first = await Promise.race([c.closed, c.until((m) => m.id === 1).catch(() => null)]);
      if (first && first.connect) held.push(c);
      else refused = first;
    }
    assert.ok(refused, `${held.length} connections held and none refused`);
    assert.equal(refused.code, 3504);
    assert.equal(refused.reason, 'connection limit');
    assert.equal(held.length, MAX_CONNECTIONS - 1);
    // Each held one is served.
    for (const c of held) {
      c.send('{"presence_stats":{"channel":"chat:crowded"},"id":2}');
      expectReply((await replies(c, [2])).get(2), 'presence_stats', 'a held connection');
    }
    held.shift().close();
    await until(async () => {
      const c = await opened(limited);
      c.send('{"connect":{},"id":1}');
      const first = await Promise.race([c.closed, c.until((m) => m.id === 1).catch(() => null)]);
      if (!first || !first.connect) return false;
      held.push(c);
      return true;
    }, 'a connection accepted once one closed', 5000);
  } finally {
    for (const c of held) c.close();
  }
});

test('allowed origins: a foreign Origin gets 403 before the upgrade; the allowed one and none connect', async () => {
  const handshake = (origin) => `GET /connection/websocket HTTP/1.1\r\nHost: 127.0.0.1:${limited.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
    + `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${origin === undefined ? '' : `Origin: ${origin}\r\n`}\r\n`;
  // With a list configured, the node's own origin is not on it either.
  for (const origin of ['https://evil.example.com', 'null', 'https://app.example.com.evil.com', 'http://app.example.com',
                        'https://app.example.com:444', 'https://evil.com/https://app.example.com', `http://127.0.0.1:${limited.port}`,
                        'https://app.example.com/', '*', 'https://app.example.co']) {
    const body = jsonError(await tcp(handshake(origin), 5000, limited), 403, `Origin: ${origin}`);
    assert.equal(body.error.code, 'forbidden');
  }
  for (const origin of ['https://app.example.com', 'https://APP.Example.com', undefined]) {
    const c = await opened(limited, origin === undefined ? {} : { origin });
    c.send('{"connect":{},"id":1}');
    expectReply((await replies(c, [1])).get(1), 'connect', `Origin: ${origin}`);
    c.close();
  }
});

test('the API key: REST writes and reads need it; health and metrics do not', async () => {
  const ask = async (path, headers = {}, init = {}) => {
    const res = await limited.fetch(path, { ...init, headers: { 'content-type': 'application/json', ...headers } });
    return { status: res.status, text: await res.text(), res };
  };
  const append = { method: 'POST', body: '{"type":"t"}' };
  for (const headers of [{}, { 'x-api-key': '' }, { 'x-api-key': 'wrong' }, { 'x-api-key': `${API_KEY}x` },
                         { 'x-api-key': API_KEY.slice(0, -1) }, { 'x-api-key': API_KEY.toUpperCase() },
                         { authorization: `Bearer ${API_KEY}` }, { authorization: 'apikey' }, { authorization: `apikey  x${API_KEY}` },
                         { authorization: `basic ${Buffer.from(`u:${API_KEY}`).toString('base64')}` }]) {
    for (const [path, init] of [['/api/streams/chat:keyed', append], ['/api/streams/chat:keyed', {}], ['/api/events', {}],
                                ['/api/projections', {}], ['/api/projections/chat/rebuild', { method: 'POST' }]]) {
      const r = await ask(path, headers, init);
      const what = `${init.method || 'GET'} ${path} with ${JSON.stringify(headers)}`;
      assert.equal(r.status, 401, `${what}: ${r.text}`);
      assert.equal(JSON.parse(r.text).error.code, 'unauthorized', what);
    }
  }
  assert.equal(await streamVersion('chat:keyed', limited), 0);
  assert.equal((await ask('/api/streams/chat:keyed', { authorization: `apikey ${API_KEY}` }, append)).status, 200);
  assert.equal((await ask('/api/streams/chat:keyed', { 'x-api-key': API_KEY }, append)).status, 200);
  assert.equal((await ask('/health')).status, 200);
  assert.equal((await ask('/metrics')).status, 200);
  assert.equal(await streamVersion('chat:keyed', limited), 2);
});

// -- WebSocket frames ------------------------------------------------------------

const BAD_UTF8 = {
  'a lone continuation byte': [0x80],
  'an invalid byte': [0xff],
  'a truncated sequence': [0xe2, 0x82],
  'an overlong encoding': [0xc0, 0xaf],
  'an overlong NUL': [0xc0, 0x80],
  'a UTF-16 surrogate': [0xed, 0xa0, 0x80],
  'a code point beyond U+10FFFF': [0xf4, 0x90, 0x80, 0x80],
};

test('invalid UTF-8 in a text frame closes with 1007', async () => {
  for (const [what, bytes] of Object.entries(BAD_UTF8)) {
    const frame = (cmd) => Buffer.concat([Buffer.from(cmd[0]), Buffer.from(bytes), Buffer.from(cmd[1])]);
    await closes(frame(['{"connect":{"name":"', '"},"id":1}']), 1007, `before connect: ${what}`, { connect: false });
    await closes(frame(['{"publish":{"channel":"chat:utf8","data":"', '"},"id":2}']), 1007, `after connect: ${what}`);
  }
  // A character split across the fragments of one message is fine; a bad
  // one in the last fragment is not.
  const c = await connected();
  const e = Buffer.from('é');
  const text = { binary: false };
  c.ws.send(Buffer.concat([Buffer.from('{"publish":{"channel":"chat:utf8","data":"'), e.subarray(0, 1)]), { ...text, fin: false });
  c.ws.send(Buffer.concat([e.subarray(1), Buffer.from('"},"id":2}')]), { ...text, fin: true });
  expectReply((await replies(c, [2])).get(2), 'publish', 'a split character');
  c.ws.send(Buffer.from('{"publish":{"channel":"chat:utf8","data":"'), { ...text, fin: false });
  c.ws.send(Buffer.from([0xff, 0x22, 0x7d, 0x7d]), { ...text, fin: true });
  await closedWith(c, 1007, 'invalid UTF-8 in the last fragment');
  assert.equal(await streamVersion('chat:utf8'), 1);
});

test('a binary frame closes with 3501, before and after connect', async () => {
  await closes(Buffer.from('{"connect":{},"id":1}'), 3501, 'binary connect', { connect: false, binary: true });
  await closes(Buffer.from([0, 1, 2, 255]), 3501, 'binary bytes', { binary: true });
  await closes(Buffer.from('{"presence_stats":{"channel":"chat:bin"},"id":2}'), 3501, 'a binary command', { binary: true });
});

test('a message over websocket.max_message_bytes closes with 1009; one at the limit is served', async () => {
  // The padding is a field herald ignores: websocket.max_data_bytes is far smaller.
  const head = '{"presence_stats":{"channel":"chat:big","pad":"';
  const tail = '"},"id":2}';
  const exactly = (n) => head + 'x'.repeat(n - head.length - tail.length) + tail;
  const c = await connected();
  c.send(exactly(MAX_MESSAGE));
  expectReply((await replies(c, [2])).get(2), 'presence_stats', 'a message of exactly the limit');
  c.close();
  await closes(exactly(MAX_MESSAGE + 1), 1009, 'one byte over');
  await closes('{"connect":{"data":"' + 'x'.repeat(2 * MAX_MESSAGE) + '"},"id":1}', 1009, 'before connect', { connect: false });
  await closes(`{"publish":{"channel":"chat:big","data":"${'x'.repeat(MAX_MESSAGE)}"},"id":2}`, 1009, 'a publish over the limit');
  // Fragments that add up to more than the limit.
  const d = await connected();
  const piece = 'x'.repeat(256 * 1024);
  d.ws.send('{"publish":{"channel":"chat:big","data":"', { fin: false });
  for (let i = 0; i < 4; i++) d.ws.send(piece, { fin: false });
  d.ws.send(tail, { fin: true });
  await closedWith(d, 1009, 'fragments over the limit');
  assert.equal(await streamVersion('chat:big'), 0);
});

/// A WebSocket opened by hand on a raw TCP socket, to send frames no
/// client library would: resolves with the socket once the handshake is done.
function rawWebSocket(node = herald) {
  return new Promise((resolve, reject) => {
    const s = net.connect(node.port, '127.0.0.1', () => {
      s.write('GET /connection/websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
              + 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    });
    let data = Buffer.alloc(0);
    const onData = (chunk) => {
      data = Buffer.concat([data, chunk]);
      const end = data.indexOf('\r\n\r\n');
      if (end < 0) return;
      s.off('data', onData);
      assert.match(data.subarray(0, end).toString(), /^HTTP\/1\.1 101 /);
      s.rest = data.subarray(end + 4);
      resolve(s);
    };
    s.on('data', onData);
    s.on('error', reject);
  });
}

/// A client frame: masked unless `mask` is false.
function wsFrame(opcode, payload, { fin = true, rsv = 0, mask = true, length } = {}) {
  payload = Buffer.from(payload);
  const n = length ?? payload.length;
  const head = [(fin ? 0x80 : 0) | (rsv << 4) | opcode];
  const m = mask ? 0x80 : 0;
  if (n < 126) head.push(m | n);
  else if (n < 65536) head.push(m | 126, n >> 8, n & 0xff);
  else {
    head.push(m | 127);
    const big = Buffer.alloc(8);
    big.writeBigUInt64BE(BigInt(n));
    head.push(...big);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), payload]);
  const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  return Buffer.concat([Buffer.from(head), key, Buffer.from(payload.map((b, i) => b ^ key[i % 4]))]);
}

/// The whole frames in `data` from the server (unmasked): [{opcode, payload}].
function serverFrames(data) {
  const frames = [];
  for (let at = 0; at + 2 <= data.length;) {
    let n = data[at + 1] & 0x7f;
    let head = 2;
    if (n === 126) { n = data.readUInt16BE(at + 2); head = 4; }
    else if (n === 127) { n = Number(data.readBigUInt64BE(at + 2)); head = 10; }
    if (at + head + n > data.length) break;
    frames.push({ opcode: data[at] & 0x0f, payload: data.subarray(at + head, at + head + n) });
    at += head + n;
  }
  return frames;
}

/// Everything the server sends until it closes the socket; the close frame's code.
function serverClose(s) {
  return Promise.race([
    new Promise((resolve) => {
      let data = s.rest;
      s.on('data', (chunk) => { data = Buffer.concat([data, chunk]); });
      s.on('error', () => {});
      s.on('close', () => {
        const close = serverFrames(data).find((f) => f.opcode === 8);
        resolve(close && close.payload.length >= 2 ? close.payload.readUInt16BE(0) : null);
      });
    }),
    deadline(5000, 'the server closing the socket'),
  ]);
}

test('WebSocket protocol violations close with 1002', async () => {
  const cases = [
    ['an unmasked frame', wsFrame(1, '{}', { mask: false }), 1002],
    ['a reserved opcode', wsFrame(3, '{}'), 1002],
    ['a reserved bit', wsFrame(1, '{}', { rsv: 4 }), 1002],
    ['a control frame over 125 bytes', wsFrame(9, 'x'.repeat(126)), 1002],
    ['a fragmented control frame', wsFrame(9, 'x', { fin: false }), 1002],
    ['a continuation with nothing to continue', wsFrame(0, '{}'), 1002],
    ['a new message inside a fragmented one', Buffer.concat([wsFrame(1, '{', { fin: false }), wsFrame(1, '}')]), 1002],
    ['a close frame with a reserved code', wsFrame(8, Buffer.from([0x03, 0xe7])), 1002],
    ['a close frame of one byte', wsFrame(8, Buffer.from([0x03])), 1002],
    // RFC 6455 §8.1: fail the connection; Beast does so with 1002.
    ['a close reason that is not UTF-8', wsFrame(8, Buffer.from([0x03, 0xe8, 0xff])), 1002],
    // A length no frame may have: Beast refuses it as too big.
    ['a 64-bit length with the top bit set', wsFrame(1, '', { length: 2n ** 63n }), 1009],
  ];
  for (const [what, bytes, code] of cases) {
    const s = await rawWebSocket();
    const closed = serverClose(s);
    s.write(bytes);
    assert.equal(await closed, code, what);
  }
});

test('a client that stops reading is cut off (websocket.max_queued_bytes); the others are not held up', async () => {
  const headers = { 'content-type': 'application/json', 'x-api-key': API_KEY };
  const slowConsumers = async () => Number((await (await limited.fetch('/metrics')).text())
    .match(/^herald_slow_consumers_total (\d+)/m)[1]);
  const before = await slowConsumers();
  const s = await rawWebSocket(limited);
  let data = s.rest;
  s.on('data', (chunk) => { data = Buffer.concat([data, chunk]); });
  let ended = false;
  s.on('error', () => {});
  s.on('close', () => { ended = true; });
  s.write(wsFrame(1, '{"connect":{},"id":1}\n{"subscribe":{"channel":"chat:slow"},"id":2}'));
  await until(() => serverFrames(data).some((f) => f.payload.includes('"id":2,"subscribe"')), 'the subscribe reply');
  s.pause(); // from here on the client reads nothing
  // Publications of 512 KiB until the node has had enough: the socket's
  // buffers fill, then the connection's queue.
  let appended = 0;
  while ((await slowConsumers()) === before) {
    assert.ok(appended < 100, `${appended} publications of 512 KiB and the client was never cut off`);
    const res = await limited.fetch('/api/streams/chat:slow', {
      method: 'POST', headers, body: JSON.stringify({ type: 't', data: { n: ++appended, pad: 'x'.repeat(512 * 1024) } }),
    });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  }
  // Reading again, the client finds what fitted in the socket, in order,
  // and then the end of the connection.
  s.resume();
  await until(() => ended, 'the slow connection to end', 5000);
  const pubs = serverFrames(data).filter((f) => f.opcode === 1).flatMap((f) => f.payload.toString().split('\n'))
    .map((l) => JSON.parse(l)).filter((m) => m.push && m.push.pub);
  assert.ok(pubs.length < appended, `${pubs.length} of ${appended} delivered`);
  assert.deepEqual(pubs.map((p) => p.offset), pubs.map((_, i) => i + 1));
  assert.equal(await streamVersion('chat:slow', limited), appended);
});

// -- floods ----------------------------------------------------------------------

test('a flood of commands in one message and of messages: all answered, in order (no rate limits)', async () => {
  const c = await connected();
  c.send('{"subscribe":{"channel":"chat:flood"},"id":2}');
  expectReply((await replies(c, [2])).get(2), 'subscribe', 'subscribe');
  const n = 3000;
  const lines = [];
  for (let i = 0; i < n; i++) {
    const id = 10 + i;
    if (i % 3 === 0) lines.push(`{"publish":{"channel":"chat:flood","data":{"i":${i}}},"id":${id}}`);
    else if (i % 3 === 1) lines.push(`{"presence_stats":{"channel":"chat:flood"},"id":${id}}`);
    else lines.push(`{"history":{"channel":"chat:flood"},"id":${id}}`);
  }
  c.send(lines.join('\n'));
  for (let i = 0; i < n; i++) c.send(`{"presence_stats":{"channel":"chat:flood"},"id":${10 + n + i}}`);
  const ids = Array.from({ length: 2 * n }, (_, i) => 10 + i);
  const pubs = [];
  const got = new Map();
  const end = Date.now() + 20000;
  while (got.size < ids.length || pubs.length < n / 3) {
    for (const m of await c.messages(end - Date.now())) {
      if (m.id) got.set(m.id, m);
      else if (m.push && m.push.pub) pubs.push(m.push.pub);
    }
  }
  const method = (id) => (id >= 10 + n ? 'presence_stats' : ['publish', 'presence_stats', 'history'][(id - 10) % 3]);
  for (const id of ids) expectReply(got.get(id), method(id), `flood id ${id}`);
  assert.deepEqual(pubs.map((p) => p.data.i), Array.from({ length: n / 3 }, (_, i) => 3 * i));
  assert.deepEqual(pubs.map((p) => p.offset), Array.from({ length: n / 3 }, (_, i) => i + 1));
  c.close();
});

/// Sends `line(i)` on `c`, `perTick` lines every `tick` ms, until the server
/// closes the connection; resolves with the close, every message received
/// (with the time it came) and the number of lines sent. A refused client
/// that keeps going is closed a second after its first 111, so the flood
/// has to last: it is paced, and bounded by `ms`.
async function floodUntilClosed(c, line, { perTick = 1, tick = 10, ms = 6000 } = {}) {
  const received = [];
  c.ws.on('message', (data) => {
    for (const l of data.toString().split('\n')) if (l) received.push({ at: Date.now(), m: JSON.parse(l) });
  });
  let closed = null;
  c.closed.then((x) => { closed = { ...x, at: Date.now() }; });
  const end = Date.now() + ms;
  let sent = 0;
  while (!closed && Date.now() < end) {
    if (c.ws.readyState === WebSocket.OPEN) for (let k = 0; k < perTick; k++) c.send(line(sent++));
    await new Promise((resolve) => setTimeout(resolve, tick)); // pacing the flood, not waiting for anything
  }
  await Promise.race([c.closed, deadline(2000, 'the close after the flood')]);
  return { closed, received, sent };
}

test('a flood of publishes over websocket.publish_rate: 111, then close 3013; only the allowed ones stored', async () => {
  const c = await connected(limited);
  const channel = 'chat:publish-flood';
  c.send(`{"subscribe":{"channel":"${channel}"},"id":2}`);
  expectReply((await replies(c, [2])).get(2), 'subscribe', 'subscribe');
  c.frames.length = 0;
  const started = Date.now();
  // 25 publishes a second: over publish_rate, under command_rate. Every
  // tenth command is a presence_stats, which publish_rate does not limit.
  const { closed, received, sent } = await floodUntilClosed(c, (i) => (i % 10 === 9
    ? `{"presence_stats":{"channel":"${channel}"},"id":${100 + i}}`
    : `{"publish":{"channel":"${channel}","data":{"i":${i}}},"id":${100 + i}}`), { tick: 40 });
  assert.equal(closed.code, 3013, JSON.stringify(closed));
  assert.equal(closed.reason, 'too many requests');
  const answers = received.filter((r) => r.m.id);
  const ok = answers.filter((r) => r.m.publish);
  const refused = answers.filter((r) => r.m.error);
  for (const r of refused) expectReply(r.m, 111, `publish ${r.m.id}`);
  assert.ok(refused.length > 0, 'no 111 before the close');
  // The limit lets the burst (one second's worth) through at once, then the rate.
  const seconds = (closed.at - started) / 1000;
  assert.ok(ok.length >= PUBLISH_RATE && ok.length <= PUBLISH_RATE * (1 + seconds) + 1, `${ok.length} publishes allowed in ${seconds} s`);
  // A client ignoring 111 for a second is closed; not much sooner, not much later.
  const sinceRefused = closed.at - refused[0].at;
  assert.ok(sinceRefused >= 900 && sinceRefused < 3000, `closed ${sinceRefused} ms after the first 111`);
  // Presence requests were answered all along: only publishes are limited.
  const stats = answers.filter((r) => r.m.presence_stats);
  assert.ok(stats.length > 0 && stats.every((r) => r.m.presence_stats.num_clients === 1), JSON.stringify(stats.slice(0, 3)));
  assert.ok(answers.length <= sent);
  // Exactly the acknowledged publishes were stored, and were pushed in order.
  assert.equal(await streamVersion(channel, limited), ok.length);
  const pubs = received.filter((r) => r.m.push && r.m.push.pub).map((r) => r.m.push.pub);
  assert.deepEqual(pubs.map((p) => p.offset), ok.map((_, i) => i + 1));
  assert.deepEqual(pubs.map((p) => p.data.i), ok.map((r) => r.m.id - 100));
});

test('a flood of commands over websocket.command_rate: 111, then close 3013', async () => {
  const c = await connected(limited);
  const { closed, received } = await floodUntilClosed(c, (i) => `{"presence_stats":{"channel":"chat:command-flood"},"id":${100 + i}}`,
                                                       { perTick: 3 });
  assert.equal(closed.code, 3013, JSON.stringify(closed));
  assert.equal(closed.reason, 'too many requests');
  const refused = received.filter((r) => r.m.error);
  for (const r of refused) expectReply(r.m, 111, `command ${r.m.id}`);
  assert.ok(refused.length > 0, 'no 111 before the close');
  assert.ok(received.filter((r) => r.m.presence_stats).length >= COMMAND_RATE);
  const sinceRefused = closed.at - refused[0].at;
  assert.ok(sinceRefused >= 900 && sinceRefused < 3000, `closed ${sinceRefused} ms after the first 111`);
  // A client that backs off after 111 is fine: a burst, a pause, and more.
  const d = await connected(limited);
  const burst = (from) => Array.from({ length: COMMAND_RATE + 5 }, (_, i) => `{"presence_stats":{"channel":"chat:command-flood"},"id":${from + i}}`).join('\n');
  d.send(burst(10));
  const first = await replies(d, Array.from({ length: COMMAND_RATE + 5 }, (_, i) => 10 + i));
  const firstRefused = [...first.values()].filter((m) => m.error);
  // The connect took one of the burst's tokens.
  assert.ok(firstRefused.length >= 1 && firstRefused.length <= 6, `${firstRefused.length} refused of a burst of ${COMMAND_RATE + 5}`);
  for (const m of firstRefused) expectReply(m, 111, 'burst');
  // Backing off (the SDK retries 111 after a delay) gets it served again.
  let m;
  for (let id = 1000; ; id++) {
    d.send(`{"presence_stats":{"channel":"chat:command-flood"},"id":${id}}`);
    [m] = await d.messages();
    if (!m.error || id > 1020) break;
    await new Promise((resolve) => setTimeout(resolve, 100)); // the client's back-off
  }
  expectReply(m, 'presence_stats', 'after backing off');
  assert.equal(d.ws.readyState, WebSocket.OPEN);
  d.close();
});

test('hundreds of connections opening, subscribing and vanishing at once', async () => {
  const clients = await Promise.all(Array.from({ length: 200 }, async (_, i) => {
    const c = await opened();
    c.send(`{"connect":{},"id":1}\n{"subscribe":{"channel":"chat:crowd"},"id":2}\n{"publish":{"channel":"chat:crowd","data":{"i":${i}}},"id":3}`);
    return c;
  }));
  // Half wait for their replies, half vanish without a close handshake.
  await Promise.all(clients.map(async (c, i) => {
    if (i % 2) return c.close();
    await replies(c, [1, 2, 3]);
    c.close();
  }));
  await until(async () => (await herald.json('/health')).body.connections <= 1, 'the connections to be gone');
});

// -- HTTP on the raw TCP port ------------------------------------------------------

/// Writes `chunks` to a fresh TCP connection and reads until the server
/// closes it; resolves with the bytes received (a reset counts as a close).
function tcp(chunks, ms = 5000, node = herald) {
  return new Promise((resolve, reject) => {
    const s = net.connect(node.port, '127.0.0.1');
    let data = Buffer.alloc(0);
    s.on('connect', () => { for (const c of [].concat(chunks)) s.write(c); });
    s.on('data', (d) => { data = Buffer.concat([data, d]); });
    s.on('error', () => {});
    s.on('close', () => { clearTimeout(timer); resolve(data); });
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`the server kept the connection open: ${data}`)); }, ms);
  });
}

/// The HTTP responses in `data`.
function responses(data) {
  const out = [];
  let rest = data;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    assert.ok(end > 0, `not an HTTP response: ${rest}`);
    const [statusLine, ...lines] = rest.subarray(0, end).toString().split('\r\n');
    const m = statusLine.match(/^HTTP\/1\.[01] (\d{3}) /);
    assert.ok(m, statusLine);
    const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    // Without a Content-Length the body runs to the close.
    const length = 'content-length' in headers ? Number(headers['content-length']) : rest.length - end - 4;
    const body = rest.subarray(end + 4, end + 4 + length).toString();
    out.push({ status: Number(m[1]), headers, body });
    rest = rest.subarray(end + 4 + length);
  }
  return out;
}

/// One JSON error response with `status`, then the close.
function jsonError(data, status, what) {
  const all = responses(data);
  assert.equal(all.length, 1, `${what}: ${data}`);
  const [res] = all;
  assert.equal(res.status, status, `${what}: ${data}`);
  assert.equal(res.headers['content-type'], 'application/json', what);
  const body = JSON.parse(res.body);
  assert.ok(body.error.code && body.error.message, `${what}: ${res.body}`);
  return body;
}

/// A deterministic stream of bytes.
function noise(seed, n) {
  const out = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

test('HTTP garbage: 400, 413 or 431 with a JSON error, then the connection closes', async () => {
  const cases = [
    ['random bytes', noise(42, 4096), 400],
    ['more random bytes', noise(7, 100), 400],
    ['NUL bytes', Buffer.alloc(64), 400],
    ['a request line of one word', 'GET\r\n\r\n', 400],
    ['an invalid method', 'G(T / HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['an unknown version', 'GET / HTTP/9.9\r\nHost: x\r\n\r\n', 400],
    ['not HTTP', 'GET / FTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['a target with a space', 'GET /a b HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['a NUL in the target', 'GET /in\0dex.html HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['a header without a colon', 'GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n', 400],
    ['a space in a header name', 'GET / HTTP/1.1\r\nHo st: x\r\n\r\n', 400],
    ['a bare LF line end', 'GET / HTTP/1.1\nHost: x\n\n', 400],
    ['a header value with a NUL', 'GET / HTTP/1.1\r\nHost: x\0y\r\n\r\n', 400],
    ['a huge header', `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`, 431],
    ['thousands of headers', `GET / HTTP/1.1\r\nHost: x\r\n${'X-A: b\r\n'.repeat(3000)}\r\n`, 431],
    ['a huge request line', `GET /${'a'.repeat(20000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 431],
    ['Content-Length not a number', 'POST /api/streams/chat:g HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n', 400],
    ['a negative Content-Length', 'POST /api/streams/chat:g HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n', 400],
    ['an overflowing Content-Length', 'POST /api/streams/chat:g HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n', 400],
    ['two Content-Lengths', 'POST /api/streams/chat:g HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}', 400],
    ['a Content-Length over the body limit', `POST /api/streams/chat:g HTTP/1.1\r\nHost: x\r\nContent-Length: ${MAX_BODY + 1}\r\n\r\n`, 413],
    ['a gigantic Content-Length', 'POST /api/streams/chat:g HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551615\r\n\r\n', 413],
    ['a chunk size that is not hex', 'POST /api/streams/chat:g HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n', 400],
    ['a chunk longer than said', 'POST /api/streams/chat:g HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{}\r\n0\r\n\r\n', 400],
    ['an overflowing chunk size', 'POST /api/streams/chat:g HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\n', 400],
    ['chunks over the body limit', `POST /api/streams/chat:g HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${(MAX_BODY + 1).toString(16)}\r\n`, 413],
    ['an unknown transfer coding', 'POST /api/streams/chat:g HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n{}', 400],
    ['chunked and Content-Length', 'POST /api/streams/chat:g HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n', 400],
  ];
  for (const [what, bytes, status] of cases) jsonError(await tcp(bytes), status, what);
  assert.equal(await streamVersion('chat:g'), 0);
});

test('HTTP oddities that are still HTTP get a fitting answer', async () => {
  // An unknown method on a known path: 405.
  let [res] = responses(await tcp('FROB /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
  assert.equal(res.status, 405);
  // HTTP/1.0 without Host: served, then closed.
  [res] = responses(await tcp('GET /health HTTP/1.0\r\n\r\n'));
  assert.equal(res.status, 200);
  // Pipelined requests are answered in order; garbage after them ends it.
  const all = responses(await tcp('GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n\x01\x02garbage\r\n\r\n'));
  assert.deepEqual(all.map((r) => r.status), [200, 404, 400]);
  // A WebSocket handshake gone wrong: no key, a wrong version, a wrong path.
  const upgrade = 'GET /connection/websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n';
  [res] = responses(await tcp(`${upgrade}Sec-WebSocket-Version: 13\r\n\r\n`));
  assert.equal(res.status, 400);
  [res] = responses(await tcp(`${upgrade}Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 12\r\n\r\n`));
  assert.equal(res.status, 426);
  jsonError(await tcp(upgrade.replace('/connection/websocket', '/elsewhere') + 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'), 404, 'a WebSocket elsewhere');
});

// -- slow clients ---------------------------------------------------------------------

/// Opens a connection that sends `start`, then one more header line every
/// 50 ms until the server closes it. With `waitFor`, it first waits for an
/// answer holding that text, then sends `then` and starts dripping. Resolves
/// with the ms from the first drip to the close, and what came after `waitFor`.
function slowLoris(start = 'GET /health HTTP/1.1\r\nHost: x\r\n', { waitFor, then = '' } = {}) {
  return new Promise((resolve, reject) => {
    const s = net.connect(herald.port, '127.0.0.1');
    let data = Buffer.alloc(0);
    let began = Date.now();
    let drip;
    const dripping = () => {
      began = Date.now();
      s.write(then);
      drip = setInterval(() => s.write('X-Slow: 1\r\n'), 50);
    };
    s.on('connect', () => {
      s.write(start);
      if (!waitFor) dripping();
    });
    s.on('data', (d) => {
      data = Buffer.concat([data, d]);
      if (waitFor && !drip && data.includes(waitFor)) {
        data = Buffer.alloc(0);
        dripping();
      }
    });
    s.on('error', () => {});
    s.on('close', () => {
      clearInterval(drip);
      clearTimeout(timer);
      resolve({ ms: Date.now() - began, data });
    });
    const timer = setTimeout(() => {
      clearInterval(drip);
      s.destroy();
      reject(new Error(`a slow client was never cut off (${data})`));
    }, 10000);
  });
}

test('slow-loris: a request trickling in is cut off after http.header_timeout', async () => {
  const cutOff = ({ ms, data }, what) => {
    assert.equal(data.length, 0, `${what}: answered ${data}`);
    assert.ok(ms >= HEADER_TIMEOUT - 50 && ms < HEADER_TIMEOUT + 1500, `${what}: cut off after ${ms} ms`);
  };
  cutOff(await slowLoris(), 'headers');
  cutOff(await slowLoris('GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n'), 'a body');
  // On a kept-alive connection http.idle_timeout only bounds the wait for
  // the next request; from its first byte on, http.header_timeout holds.
  cutOff(await slowLoris('GET /health HTTP/1.1\r\nHost: x\r\n\r\n', { waitFor: '"status":"ok"', then: 'GET /health HTTP/1.1\r\n' }),
         'the next request on a kept-alive connection');
  cutOff(await slowLoris('GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\n', { waitFor: '"status":"ok"' }),
         'a pipelined request');
});

test('slow-loris: hundreds of slow clients do not hold up anybody else', async () => {
  // 300 slow clients, each coming back as soon as it is cut off.
  let attacking = true;
  let cut = 0;
  const attackers = Array.from({ length: 300 }, async () => {
    while (attacking) {
      const { data } = await slowLoris();
      assert.equal(data.length, 0, `a slow client got an answer: ${data}`);
      cut++;
    }
  });
  try {
    await until(() => cut >= 300, 'the first slow clients to be cut off');
    // Meanwhile REST, a WebSocket client and its publications all work.
    assert.equal((await herald.json('/health')).status, 200);
    const c = await connected();
    c.send('{"subscribe":{"channel":"chat:loris"},"id":2}\n{"publish":{"channel":"chat:loris","data":{"ok":1}},"id":3}');
    const got = await replies(c, [2, 3]);
    expectReply(got.get(2), 'subscribe', 'subscribe among slow clients');
    expectReply(got.get(3), 'publish', 'publish among slow clients');
    await pushed(c, (m) => m.push && m.push.pub && m.push.pub.data.ok === 1);
    c.close();
    const appended = await herald.json('/api/streams/chat:loris',
                                       { method: 'POST', body: '{"type":"t"}', headers: { 'content-type': 'application/json' } });
    assert.equal(appended.status, 200);
  } finally {
    attacking = false;
    await Promise.all(attackers);
  }
});

// -- static files and path traversal --------------------------------------------------

test('path traversal on static files: 404 or 400, never a file outside web/dist', async () => {
  const get = async (target) => responses(await tcp(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`))[0];
  const index = await get('/index.html');
  assert.equal(index.status, 200);
  const targets = {
    '/../etc/passwd': 404,
    '/../../../../../../../../etc/passwd': 404,
    '/%2e%2e/%2e%2e/etc/passwd': 404,
    '/%2E%2E/%2E%2E/etc/passwd': 404,
    '/..%2fetc/passwd': 404,
    '/..%2f..%2f..%2fetc%2fpasswd': 404,
    '/%2e%2e%2f%2e%2e%2fetc%2fpasswd': 404,
    '/.%2e/.%2e/etc/passwd': 404,
    '/%252e%252e/%252e%252e/etc/passwd': 404,
    '/..\\..\\..\\etc\\passwd': 404,
    '/%5c..%5c..%5cetc%5cpasswd': 404,
    '/..%5c..%5cetc%5cpasswd': 404,
    '/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd': 400, // overlong dots are not UTF-8
    '/%ff/etc/passwd': 400,
    '/index.html%00': 400,
    '/index.html%00.png': 400,
    '/%00/../etc/passwd': 400,
    '/index.html%': 400,
    '/index.html%zz': 400,
    '//etc/passwd': 404,
    '/./index.html': 404,
    '/assets/../index.html': 404,
    '/index.html/..': 404,
    '/etc/passwd': 404,
    '/proc/self/environ': 404,
    '/CMakeLists.txt': 404,
    '/web/dist/index.html': 404,
    '/../web/dist/index.html': 404,
    '/index.html.bak': 404,
    '/.git/config': 404,
    [`/${'a'.repeat(8000)}`]: 404,
    [`/${'../'.repeat(2000)}etc/passwd`]: 404,
    [`/${'%2e%2e/'.repeat(1000)}etc/passwd`]: 404,
    [`/${'a'.repeat(20000)}`]: 431,
  };
  for (const [target, status] of Object.entries(targets)) {
    const res = await get(target);
    const what = target.slice(0, 60);
    assert.equal(res.status, status, what);
    assert.equal(res.headers['content-type'], 'application/json', what);
    assert.equal(JSON.parse(res.body).error.code, status === 404 ? 'not_found' : status === 400 ? 'bad_request' : 'headers_too_large', what);
    assert.ok(!res.body.includes('root:'), what);
  }
});

// -- REST bodies ----------------------------------------------------------------------

/// POST to the stream `chat:rest-bad`; resolves with {status, body}.
async function post(body, headers = { 'content-type': 'application/json' }, stream = 'chat:rest-bad') {
  const res = await herald.fetch(`/api/streams/${stream}`, { method: 'POST', body, headers });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { assert.fail(`not JSON (${res.status}): ${text.slice(0, 200)}`); }
  return { status: res.status, body: json, type: res.headers.get('content-type') };
}

async function rejects(body, status, what, headers) {
  const r = await post(body, headers);
  assert.equal(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
  assert.equal(r.type, 'application/json', what);
  assert.ok(r.body.error && r.body.error.code && r.body.error.message, `${what}: ${JSON.stringify(r.body)}`);
  return r.body;
}

test('REST: malformed, truncated and non-object bodies are 400', async () => {
  const bad = ['', ' ', 'not json', '{', '{"type":"t"', '{"type":"t",}', "{'type':'t'}", '{"type":"t"}x', '{"type":"t"}{}',
               '[]', '"x"', '5', 'null', 'true', '{"type":"t","data":NaN}', '{"type":"t","data":1e400}',
               '{"type":"t","data":"\\ud800"}', '{"type":"t","data":"a\u0001b"}'];
  for (const body of bad) assert.equal((await rejects(body, 400, JSON.stringify(body))).error.code, 'bad_request');
  const full = '{"type":"message","id":"e-1","data":{"a":[1,2.5,"é",null,true]},"meta":{"m":1},"expected_version":"any"}';
  for (let cut = 1; cut < full.length; cut++) await rejects(full.slice(0, cut), 400, full.slice(0, cut));
  assert.equal(await streamVersion('chat:rest-bad'), 0);
});

test('REST: every field with a value of every wrong type is 400', async () => {
  const fields = [
    [{ type: 'RAW' }, 'string', ['empty string']],
    [{ type: 't', id: 'RAW' }, 'string', ['empty string']],
    [{ type: 't', meta: 'RAW' }, 'object', []],
    [{ events: 'RAW' }, 'none', []],
    // An event is any object: one without a type gets the WebSocket default.
    [{ events: ['RAW'] }, 'object', []],
    [{ type: 't', expected_version: 'RAW' }, 'uint', []], // "x" and "" are no version names either
  ];
  for (const [template, kind, alsoBad] of fields) {
    for (const v of wrongFor(kind).concat(alsoBad))
      await rejects(withRaw(template, VALUES[v]), 400, withRaw(template, VALUES[v]));
  }
  await rejects(JSON.stringify({ type: 'x'.repeat(129) }), 400, 'a type of 129 characters');
  await rejects(JSON.stringify({ type: 't', id: 'x'.repeat(257) }), 400, 'an id of 257 characters');
  for (const h of ['maybe', '-1', '1.5', '1e3', '99999999999999999999999', '0x1', ''])
    await rejects('{"type":"t"}', 400, `Expected-Version: ${h}`, { 'content-type': 'application/json', 'expected-version': h });
  assert.equal(await streamVersion('chat:rest-bad'), 0);
  // A huge expected version is a number all the same: a conflict.
  const conflict = await rejects('{"type":"t","expected_version":18446744073709551615}', 409, 'uint64 max');
  assert.equal(conflict.error.code, 'wrong_expected_version');
});

test('REST: data of every type and huge numbers are stored as JSON parses them', async () => {
  const raws = Object.values(VALUES).concat(['{"big":123456789012345678901234567890,"max":18446744073709551615,"min":-9223372036854775808}']);
  for (const raw of raws) {
    const r = await post(`{"type":"t","data":${raw},"meta":{"raw":${JSON.stringify(raw)}}}`, undefined, 'chat:rest-types');
    assert.equal(r.status, 200, raw);
  }
  const read = await herald.json('/api/streams/chat:rest-types?limit=1000');
  assert.deepEqual(read.body.events.map((e) => e.data), raws.map((r) => JSON.parse(r)));
});

test('REST: deep nesting, invalid UTF-8, big bodies and content types', async () => {
  const nest = (n) => '['.repeat(n) + ']'.repeat(n);
  assert.equal((await post(`{"type":"t","data":${nest(64)}}`, undefined, 'chat:rest-deep')).status, 200);
  await rejects(`{"type":"t","data":${nest(65)}}`, 400, '65 levels');
  await rejects(`{"type":"t","data":${nest(100000)}}`, 400, '100000 levels of arrays');
  await rejects(`{"type":"t","data":${'{"a":'.repeat(100000)}1${'}'.repeat(100000)}}`, 400, '100000 levels of objects');
  await rejects(`{"type":"t","meta":{"m":${nest(100000)}}}`, 400, 'deep meta');
  await rejects(`{"events":${nest(100000)}}`, 400, 'deep events');
  for (const [what, bytes] of Object.entries(BAD_UTF8)) {
    await rejects(Buffer.concat([Buffer.from('{"type":"t","data":"'), Buffer.from(bytes), Buffer.from('"}')]), 400, `data with ${what}`);
    await rejects(Buffer.concat([Buffer.from('{"type":"'), Buffer.from(bytes), Buffer.from('"}')]), 400, `a type with ${what}`);
  }
  const big = await rejects(JSON.stringify({ type: 't', data: 'x'.repeat(MAX_BODY) }), 413, 'a body over http.max_body_bytes');
  assert.equal(big.error.code, 'too_large');
  // Without an API key a POST must say it is JSON (issue 9: a page on
  // another site can POST forms and text/plain): forms, and JSON sent as
  // anything but application/json, are 415.
  await rejects('type=t&data=x', 415, 'a form', { 'content-type': 'application/x-www-form-urlencoded' });
  await rejects('--b\r\nContent-Disposition: form-data; name="type"\r\n\r\nt\r\n--b--\r\n', 415, 'multipart',
                { 'content-type': 'multipart/form-data; boundary=b' });
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream', 'text/html'])
    assert.equal((await post('{"type":"t","data":{}}', { 'content-type': type }, 'chat:rest-types2')).status, 415, type);
  assert.equal(await streamVersion('chat:rest-types2'), 0);
  assert.equal(await streamVersion('chat:rest-bad'), 0);
});

test('REST: bad stream names, query parameters and methods', async () => {
  const check = async (path, status, init) => {
    const res = await herald.fetch(path, init);
    const body = await res.json();
    assert.equal(res.status, status, `${path}: ${JSON.stringify(body)}`);
    assert.ok(body.error.code && body.error.message, path);
  };
  const append = { method: 'POST', body: '{"type":"t"}', headers: { 'content-type': 'application/json' } };
  await check('/api/streams/chat:%FF', 400, append); // not UTF-8
  await check('/api/streams/chat:%C0%80', 400, append);
  await check('/api/streams/chat:%00', 400, append);
  await check('/api/streams/chat:%', 400, append);
  await check(`/api/streams/chat:${'x'.repeat(251)}`, 400, append); // over channels.max_name_length
  for (const q of ['from=x', 'from=-1', 'from=1.5', 'from=', 'limit=1e3', 'limit=-1', 'limit=99999999999999999999999',
                   'reverse=2', 'reverse=true', 'from=%FF', 'limit=%00'])
    await check(`/api/streams/chat:rest-bad?${q}`, 400);
  for (const q of ['from=x', 'from=-1', 'limit=99999999999999999999999'])
    await check(`/api/events?${q}`, 400);
  for (const q of ['room=kitchen&limit=many', 'room=kitchen&limit=1.5', 'room=kitchen&limit=99999999999999999999999',
                   'room=%FF', 'room=kitchen&limit=%FF', '', 'room=%'])
    await check(`/api/queries/messages?${q}`, 400);
  await check('/api/streams/chat:rest-bad', 405, { method: 'PUT', body: '{}' });
  await check('/health', 405, { method: 'POST', body: '{}' });
  await check('/api/projections/chat/rebuild', 405);
  await check('/api/projections/chat/rebuild', 405, { method: 'DELETE' });
  await check('/api/streams/chat:rest-bad', 405, { method: 'DELETE' });
});

test('REST: unknown endpoints are 404 with a JSON error; the WebSocket endpoint without an upgrade is 426', async () => {
  const check = async (path, status, init) => {
    const res = await herald.fetch(path, init);
    assert.equal(res.headers.get('content-type'), 'application/json', path);
    const body = await res.json();
    assert.equal(res.status, status, `${path}: ${JSON.stringify(body)}`);
    assert.ok(body.error.code && body.error.message, path);
    return res;
  };
  for (const path of ['/api', '/api/', '/api/nope', '/api/streams', '/api/streams/a/b', '/api/events/x', '/api/queries',
                      '/api/queries/nope', '/api/projections/nope', '/api/projections/chat/nope', '/api/projections/chat/rebuild/x',
                      '/nope', '/connection', '/index.html/x', '/API/events'])
    await check(path, 404);
  await check('/api/projections/chat/nope', 404, { method: 'POST' });
  await check('/api/nope', 404, { method: 'POST', body: '{}' });
  const ws = await check('/connection/websocket', 426);
  assert.equal(ws.headers.get('upgrade'), 'websocket');
});
