// Crash safety through the whole stack (invariants 1-3 of docs/architecture.md): WebSocket
// clients (the real centrifuge SDK) and REST clients publish concurrently to a
// few channels while the node is killed with SIGKILL at random moments. After
// every restart:
//   - the journal (global log), each stream read over REST and each channel's
//     history over WebSocket agree, offsets are 1..N per channel and
//     positions 1..head overall;
//   - every acknowledged publish is there exactly once, at the offset (and
//     position) its reply named, in the order each client issued them, and
//     after everything acknowledged before it was issued;
//   - unacknowledged publishes may or may not be there, never twice; what was
//     in the log once stays there unchanged;
//   - a retried append with an event id lands once;
//   - every subscriber got every publication of every channel, in offset
//     order, with no gap and no duplicate (recovery across kill -9);
//   - the chat projection's read model (queries `rooms` and `messages`), once
//     caught up, equals the fold of the journal.
//
// CRASH_SEED=N reproduces a run's choices of channels, kinds and kill
// moments; CRASH_KILLS=N sets the number of kill -9 cycles (default 22).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Centrifuge } from 'centrifuge';
import WebSocket from 'ws';
import { Herald, until } from './lib/herald.mjs';

const SEED = Number(process.env.CRASH_SEED || (Date.now() % 1000000007));
const KILLS = Number(process.env.CRASH_KILLS || 22);
const CHANNELS = ['chat:crash0', 'chat:crash1', 'chat:crash2', 'chat:crash3'];
const WS_WORKERS = 3;
const REST_WORKERS = 2;

// mulberry32: small, seedable, good enough to pick moments and kinds.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
// The kill schedule and each worker draw from their own generators, so that
// a seed repeats the same choices whatever the interleaving.
const schedule = rng(SEED);
const pick = (random, list) => list[Math.floor(random() * list.length)];

const herald = new Herald(['--websocket.publish_rate=0', '--websocket.command_rate=0',
                           '--projections.snapshot_every_events=300']);
const clients = [];
after(async () => {
  for (const c of clients) c.disconnect();
  await herald.cleanup();
});

/// One request on a connection of its own: no keep-alive, so that nothing
/// below us resends a request on a reused socket behind our back, and no
/// socket to a killed process is reused.
function request(path, { method = 'GET', body } = {}) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers = payload === undefined ? {}
      : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) };
    const req = http.request({ host: '127.0.0.1', port: herald.port, path, method, agent: false, headers },
                             (res) => {
                               let text = '';
                               res.setEncoding('utf8');
                               res.on('data', (c) => { text += c; });
                               res.on('end', () => {
                                 try { resolve({ status: res.statusCode, body: JSON.parse(text) }); }
                                 catch (e) { reject(e); }
                               });
                               res.on('error', reject);
                             });
    req.on('error', reject);
    req.end(payload);
  });
}

const post = (path, body) => request(path, { method: 'POST', body });

async function getJson(path) {
  const { status, body } = await request(path);
  assert.equal(status, 200, `${path}: ${JSON.stringify(body)}`);
  return body;
}

// -- the load -----------------------------------------------------------------

/// Every operation issued: { worker, seq, channel, kind, tokens, types, id?,
/// issued, ackAt?, state: 'pending'|'acked'|'failed', offset?, position?, attempts }.
/// A token is unique per event and travels in data.text.
const ops = [];
const inFlight = new Set();
let phase = 'down'; // 'load' while workers may issue operations
let gateWaiters = [];
let stopping = false;

function openGate() {
  phase = 'load';
  for (const w of gateWaiters) w();
  gateWaiters = [];
}
const gate = () => (phase === 'load' ? Promise.resolve() : new Promise((r) => gateWaiters.push(r)));

/// Runs one attempt of `op`, tracked as in flight.
async function attempt(op, perform) {
  const p = perform(op);
  inFlight.add(p);
  try {
    return await p;
  } finally {
    inFlight.delete(p);
  }
}

/// Issues operations until stopped. An operation with an event id is retried
/// (same body) until acknowledged: the journal must then store it once.
async function worker(name, makeOp, perform) {
  for (let seq = 0; ; seq++) {
    await gate();
    if (stopping) return;
    const op = makeOp(seq);
    op.worker = name;
    op.seq = seq;
    op.state = 'pending';
    op.attempts = 0;
    op.issued = performance.now();
    ops.push(op);
    for (;;) {
      op.attempts++;
      try {
        const ack = await attempt(op, perform);
        op.ackAt = performance.now();
        Object.assign(op, ack);
        op.state = 'acked';
        break;
      } catch (e) {
        op.state = 'failed';
        op.error = e;
        if (!op.id) break;
        await gate();
        if (stopping) return;
      }
    }
  }
}

/// A WebSocket client subscribed to every channel, recording what it gets.
function wsClient(name) {
  const c = new Centrifuge(herald.ws, { websocket: WebSocket, minReconnectDelay: 20, maxReconnectDelay: 100,
                                        timeout: 5000 });
  c.on('error', () => {}); // connection errors during the kills are expected
  clients.push(c);
  const rec = { name, c, subs: {}, pubs: {} };
  for (const ch of CHANNELS) {
    const sub = c.newSubscription(ch);
    rec.pubs[ch] = [];
    sub.on('publication', (ctx) => rec.pubs[ch].push({ offset: ctx.offset, data: ctx.data,
                                                         position: Number(ctx.tags?.position) }));
    sub.on('error', () => {});
    sub.subscribe();
    rec.subs[ch] = sub;
  }
  c.connect();
  return rec;
}

function wsOps(rec, random) {
  return {
    make(seq) {
      const channel = pick(random, CHANNELS);
      const token = `${rec.name}-${seq}`;
      const type = random() < 0.8 ? 'message' : 'note';
      if (random() < 0.55)
        return { channel, kind: 'ws-publish', tokens: [token], types: [type],
                 data: type === 'message' ? { author: rec.name, text: token } : { type, author: rec.name, text: token } };
      const withId = random() < 0.5;
      return { channel, kind: 'ws-append', tokens: [token], types: [type], id: withId ? `id-${token}` : undefined,
               data: { author: rec.name, text: token } };
    },
    async perform(op) {
      if (op.kind === 'ws-publish') {
        await rec.c.publish(op.channel, op.data);
        return {}; // the reply carries no offset; the publication does (checked below)
      }
      const args = { channel: op.channel, type: op.types[0], data: op.data };
      if (op.id) args.id = op.id;
      const r = await rec.c.rpc('append', args);
      return { offset: r.data.offset, position: r.data.position, idempotent: !!r.data.idempotent };
    },
  };
}

function restOps(name, random) {
  return {
    make(seq) {
      const channel = pick(random, CHANNELS);
      const n = random() < 0.2 ? 2 : 1;
      const withId = random() < 0.5;
      const tokens = [], types = [];
      for (let i = 0; i < n; i++) {
        tokens.push(`${name}-${seq}${n > 1 ? '.' + i : ''}`);
        types.push(random() < 0.8 ? 'message' : 'note');
      }
      return { channel, kind: n > 1 ? 'rest-batch' : 'rest', tokens, types, id: withId ? `id-${name}-${seq}` : undefined };
    },
    async perform(op) {
      const events = op.tokens.map((t, i) => ({ type: op.types[i], data: { author: name, text: t },
                                                ...(op.id ? { id: `${op.id}.${i}` } : {}) }));
      const body = events.length === 1 ? events[0] : { events };
      const r = await post('/api/streams/' + encodeURIComponent(op.channel), body);
      if (r.status !== 200) throw new Error(`REST append: ${r.status} ${JSON.stringify(r.body)}`);
      return { offset: r.body.first_version, position: r.body.first_position, idempotent: !!r.body.idempotent };
    },
  };
}

// -- verification -------------------------------------------------------------

/// Reads the whole global log over REST.
async function readLog() {
  const events = [];
  for (let from = 1; ;) {
    const page = await getJson(`/api/events?from=${from}&limit=1000`);
    events.push(...page.events);
    if (page.events.length < 1000) return events;
    from = page.next;
  }
}

async function readStream(channel) {
  const events = [];
  let body;
  for (let from = 1; ;) {
    body = await getJson(`/api/streams/${encodeURIComponent(channel)}?from=${from}&limit=1000`);
    events.push(...body.events);
    if (body.events.length < 1000) break;
    from = events.length + 1;
  }
  return { events, version: body.version, epoch: body.epoch };
}

async function readHistory(client, channel, epoch) {
  const pubs = [];
  for (;;) {
    const r = await client.history(channel, { limit: 1000, since: { offset: pubs.length, epoch } });
    pubs.push(...r.publications);
    if (r.publications.length < 1000) return { pubs, offset: r.offset, epoch: r.epoch };
  }
}

async function readMessages(room) {
  const rows = [];
  let before = '';
  for (;;) {
    const body = await getJson(`/api/queries/messages?room=${room}&limit=1000${before}`);
    rows.push(...body.rows);
    if (body.rows.length < 1000) return rows;
    before = `&before=${body.rows[body.rows.length - 1].offset}`;
  }
}

let previousLog = [];
const stats = { verifications: 0, ackedVerified: 0, landedUnacked: 0, lostUnacked: 0, retried: 0, idempotent: 0 };

async function verify(wsRecs) {
  const log = await readLog();
  const head = log.length ? log[log.length - 1].position : 0;
  // The global log: positions 1..head, each token once, only tokens we issued.
  const where = new Map(); // token -> event
  const issued = new Set(ops.flatMap((o) => o.tokens));
  log.forEach((e, i) => {
    assert.equal(e.position, i + 1, 'global positions are gap-free');
    assert.ok(CHANNELS.includes(e.stream), `unexpected stream ${e.stream}`);
    const token = e.data?.text;
    assert.ok(issued.has(token), `event at ${e.position} carries a token nobody sent: ${JSON.stringify(e.data)}`);
    assert.ok(!where.has(token), `token ${token} stored twice (positions ${where.get(token)?.position} and ${e.position})`);
    where.set(token, e);
  });
  // What was in the log at the last check is still there, unchanged.
  assert.ok(log.length >= previousLog.length, `the log shrank from ${previousLog.length} to ${log.length}`);
  for (let i = 0; i < previousLog.length; i++)
    assert.deepEqual(log[i], previousLog[i], `event at position ${i + 1} changed across a restart`);
  previousLog = log;

  // Each stream read and each channel's WebSocket history equal the log.
  const epoch = (await readStream(CHANNELS[0])).epoch;
  for (const ch of CHANNELS) {
    const expected = log.filter((e) => e.stream === ch);
    const stream = await readStream(ch);
    assert.equal(stream.version, expected.length, `${ch}: version`);
    assert.deepEqual(stream.events, expected, `${ch}: REST stream read equals the global log`);
    expected.forEach((e, i) => assert.equal(e.version, i + 1, `${ch}: offsets are 1..N`));
    const history = await readHistory(wsRecs[(stats.verifications + CHANNELS.indexOf(ch)) % wsRecs.length].c, ch, epoch);
    assert.equal(history.offset, expected.length, `${ch}: history offset`);
    assert.deepEqual(history.pubs.map((p) => [p.offset, Number(p.tags.position), p.data]),
                     expected.map((e) => [e.version, e.position, e.data]), `${ch}: WebSocket history equals the log`);
  }

  // Every acknowledged operation: present once, where its reply said.
  const byWorker = new Map();
  let acked = 0;
  stats.landedUnacked = stats.lostUnacked = 0;
  for (const op of ops) {
    if (op.state !== 'acked') {
      assert.equal(op.state, 'failed', `operation ${op.tokens[0]} still pending while verifying`);
      if (op.tokens.every((t) => where.has(t))) stats.landedUnacked++;
      else stats.lostUnacked++;
      // All or nothing: an append is atomic.
      assert.ok(op.tokens.every((t) => where.has(t)) || op.tokens.every((t) => !where.has(t)),
                `append ${op.tokens} stored partly`);
      continue;
    }
    acked++;
    op.tokens.forEach((t, i) => {
      const e = where.get(t);
      assert.ok(e, `acknowledged ${op.kind} ${t} (offset ${op.offset ?? '?'}) is missing after a restart`);
      assert.equal(e.stream, op.channel, `${t}: stream`);
      assert.equal(e.type, op.types[i], `${t}: type`);
      if (op.offset !== undefined) assert.equal(e.version, op.offset + i, `${t}: offset from the reply`);
      if (op.position !== undefined) assert.equal(e.position, op.position + i, `${t}: position from the reply`);
      if (op.id && op.kind.startsWith('rest')) assert.equal(e.id, `${op.id}.${i}`, `${t}: event id`);
      if (op.id && op.kind === 'ws-append') assert.equal(e.id, op.id, `${t}: event id`);
      if (i > 0) assert.equal(e.position, where.get(op.tokens[i - 1]).position + 1, `${t}: batch is contiguous`);
    });
    op.firstPosition = where.get(op.tokens[0]).position;
    if (!byWorker.has(op.worker)) byWorker.set(op.worker, []);
    byWorker.get(op.worker).push(op);
  }
  // In the order each client issued them (each client waits for each reply).
  for (const [w, list] of byWorker)
    for (let i = 1; i < list.length; i++)
      assert.ok(list[i].firstPosition > list[i - 1].firstPosition,
                `${w}: ${list[i].tokens[0]} stored before ${list[i - 1].tokens[0]}, which was acknowledged first`);
  // After everything acknowledged before it was issued, whoever issued that.
  const ackedOps = ops.filter((o) => o.state === 'acked');
  const byAck = [...ackedOps].sort((a, b) => a.ackAt - b.ackAt);
  const byIssue = [...ackedOps].sort((a, b) => a.issued - b.issued);
  let maxBefore = 0, k = 0;
  for (const op of byIssue) {
    for (; k < byAck.length && byAck[k].ackAt < op.issued; k++)
      maxBefore = Math.max(maxBefore, byAck[k].firstPosition + byAck[k].tokens.length - 1);
    assert.ok(op.firstPosition > maxBefore, `${op.tokens[0]} is stored before an event acknowledged before it was issued`);
  }
  stats.ackedVerified = acked;
  stats.retried = ops.filter((o) => o.attempts > 1 && o.state === 'acked').length;
  stats.idempotent = ops.filter((o) => o.idempotent).length;

  // Subscribers: every publication of every channel, in order, once, equal
  // to the journal (they subscribed before the first publish).
  const streams = Object.fromEntries(CHANNELS.map((ch) => [ch, log.filter((e) => e.stream === ch)]));
  await until(() => wsRecs.every((r) => CHANNELS.every((ch) => r.pubs[ch].length >= streams[ch].length)),
              'subscribers to receive every publication', 10000).catch((e) => {
    const short = wsRecs.flatMap((r) => CHANNELS.map((ch) => `${r.name} ${ch}: ${r.pubs[ch].length}/${streams[ch].length}`
                                                     + ` last ${JSON.stringify(r.pubs[ch].at(-1)?.offset)}`));
    throw new Error(`${e.message}\n${short.join('\n')}`);
  });
  for (const r of wsRecs)
    for (const ch of CHANNELS)
      assert.deepEqual(r.pubs[ch].map((p) => [p.offset, p.position, p.data]),
                       streams[ch].map((e) => [e.version, e.position, e.data]),
                       `${r.name} received ${ch} in order, without gap or duplicate`);

  // The chat projection, once caught up, is the fold of the journal.
  await until(async () => {
    const p = await getJson('/api/projections/chat');
    assert.notEqual(p.status, 'faulted', `projection chat faulted: ${p.error}`);
    return p.position >= head && p.status === 'running';
  }, 'the chat projection to catch up', 15000);
  const rooms = await getJson('/api/queries/rooms');
  assert.ok(rooms.position >= head);
  for (const ch of CHANNELS) {
    const room = ch.slice('chat:'.length);
    const events = streams[ch];
    const row = rooms.rows.find((r) => r.room === room);
    if (!events.length) {
      assert.equal(row, undefined, `${room}: no row without events`);
      continue;
    }
    const messages = events.filter((e) => e.type === 'message');
    assert.deepEqual({ messages: row.messages, last_position: row.last_position, last_time: row.last_time },
                     { messages: messages.length, last_position: events.at(-1).position, last_time: events.at(-1).time },
                     `${room}: rooms row`);
    const rows = await readMessages(room);
    assert.deepEqual(rows, messages.reverse().map((e) => ({ offset: e.version, author: e.data.author,
                                                             text: e.data.text, time: e.time })),
                     `${room}: messages rows`);
  }
  stats.verifications++;
  return log.length;
}

// -- the test -------------------------------------------------------------------

test(`kill -9 at random moments under concurrent WebSocket and REST publishing (seed ${SEED})`, async (t) => {
  const started = performance.now();
  t.diagnostic(`seed ${SEED} (CRASH_SEED=${SEED} repeats the choices), ${KILLS} kills`);
  await herald.start();
  const wsRecs = [];
  for (let i = 0; i < WS_WORKERS; i++) wsRecs.push(wsClient(`ws${i}`));
  const allSubscribed = () => wsRecs.every((r) => r.c.state === 'connected'
                                              && CHANNELS.every((ch) => r.subs[ch].state === 'subscribed'));
  await until(allSubscribed, 'WebSocket clients to subscribe');
  const workers = [];
  wsRecs.forEach((r, i) => {
    const w = wsOps(r, rng(SEED + 1 + i));
    workers.push(worker(r.name, w.make, w.perform));
  });
  for (let i = 0; i < REST_WORKERS; i++) {
    const w = restOps(`rest${i}`, rng(SEED + 101 + i));
    workers.push(worker(`rest${i}`, w.make, w.perform));
  }

  let kills = 0, doubleKills = 0, events = 0;
  const loadMs = [];
  while (kills < KILLS) {
    // Load for a random while (sometimes none at all), then kill -9.
    const ms = schedule() < 0.1 ? 0 : 10 + Math.floor(schedule() * 900);
    loadMs.push(ms);
    openGate();
    if (ms) await new Promise((r) => setTimeout(r, ms)); // the kill moment, not a synchronisation
    phase = 'down';
    await herald.kill9();
    kills++;
    // Whatever was in flight fails now (the sockets closed); nothing is
    // retried behind our back.
    await until(() => inFlight.size === 0, 'in-flight operations to fail', 10000);
    await herald.restart();
    if (kills < KILLS && schedule() < 0.15) {
      // Kill again while it recovers: projections catch up, clients reconnect.
      await new Promise((r) => setTimeout(r, Math.floor(schedule() * 60)));
      await herald.kill9();
      kills++;
      doubleKills++;
      await herald.restart();
    }
    await until(allSubscribed, 'WebSocket clients to reconnect and resubscribe', 10000);
    events = await verify(wsRecs);
  }
  // A last round of load on the restarted node, acknowledged and verified.
  openGate();
  await until(() => ops.filter((o) => o.state === 'acked').length > stats.ackedVerified + 20, 'load after the last restart');
  stopping = true;
  phase = 'down';
  await until(() => inFlight.size === 0, 'the last operations');
  events = await verify(wsRecs);
  openGate(); // lets the workers see `stopping` and return
  await Promise.all(workers);

  const failed = ops.filter((o) => o.state !== 'acked');
  const byKind = {};
  for (const o of ops.filter((x) => x.state === 'acked')) byKind[o.kind] = (byKind[o.kind] || 0) + 1;
  t.diagnostic(`${kills} kills (${doubleKills} during recovery), ${stats.verifications} verifications, `
               + `${events} events in the journal, ${stats.ackedVerified} acknowledged operations verified `
               + `(${JSON.stringify(byKind)}), ${stats.retried} retried with their id (${stats.idempotent} idempotent), `
               + `${failed.length} unacknowledged (${stats.landedUnacked} stored, ${stats.lostUnacked} not), `
               + `load per cycle ${Math.min(...loadMs)}..${Math.max(...loadMs)} ms, `
               + `${((performance.now() - started) / 1000).toFixed(1)} s`);
  assert.ok(kills >= 20);
  assert.ok(stats.ackedVerified > 200, 'enough acknowledged operations to mean something');
  assert.ok(failed.length > 0 || stats.retried > 0, 'some operations were caught in flight by a kill');
});
