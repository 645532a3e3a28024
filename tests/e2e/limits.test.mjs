// Limits that protect a node from its clients (docs/security.md): the
// connection limit (3504), allowed WebSocket origins (403), and slow
// consumers: a client that stops reading is closed with 3008 once its
// outbound queue passes the bound, the node's memory stays bounded, others
// are unaffected, and the slow client recovers everything on reconnect.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { Herald, until } from './lib/herald.mjs';
import { Raw } from './lib/raw.mjs';

const nodes = [];
after(async () => { for (const n of nodes) await n.cleanup(); });

async function node(args) {
  const n = new Herald(args);
  nodes.push(n);
  return n.start();
}

async function connected(n, options) {
  const c = new Raw(n.ws, options);
  await c.open();
  c.send('{"connect":{},"id":1}');
  await c.until((m) => m.id === 1);
  return c;
}

async function metric(n, name) {
  const text = await (await n.fetch('/metrics')).text();
  return Number(text.match(new RegExp(`^${name} (\\d+)`, 'm'))?.[1] ?? NaN);
}

test('past websocket.max_connections a new connection is closed with 3504, and admitted once one leaves', async () => {
  const n = await node(['--websocket.max_connections=3']);
  const held = [await connected(n), await connected(n), await connected(n)];
  const extra = new Raw(n.ws);
  await extra.open();
  const closed = await extra.closed;
  assert.equal(closed.code, 3504);
  assert.equal(await metric(n, 'herald_refused_connections_total'), 1);
  held.pop().close();
  await until(async () => (await n.json('/health')).body.connections === 2, 'the connection count to drop');
  held.push(await connected(n));
  held.forEach((c) => c.close());
});

test('by default only pages of the node itself may open a WebSocket', async () => {
  const n = await node([]);
  const open = async (origin) => {
    const c = new Raw(n.ws, origin ? { headers: { Origin: origin } } : undefined);
    try { await c.open(); c.close(); return 'open'; } catch (e) { return e.message; }
  };
  assert.equal(await open(undefined), 'open'); // not a browser
  assert.equal(await open(n.url), 'open');
  assert.match(await open('http://evil.example'), /403/);
  assert.match(await open(`http://127.0.0.1:${n.port + 1}`), /403/);
  // The refusal is a JSON error like every other.
  const res = await new Promise((resolve, reject) => {
    const req = request(`${n.url}/connection/websocket`, {
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', Origin: 'http://evil.example',
                 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' },
    }, (r) => {
      let body = '';
      r.on('data', (d) => { body += d; });
      r.on('end', () => resolve({ status: r.statusCode, body: JSON.parse(body) }));
    });
    req.on('upgrade', () => reject(new Error('upgraded')));
    req.on('error', reject);
    req.end();
  });
  assert.equal(res.status, 403);
  assert.equal(res.body.error.code, 'forbidden');
});

test('websocket.allowed_origins admits exact origins and subdomain patterns only', async () => {
  const n = await node(['--websocket.allowed_origins=https://app.example.com,https://*.example.org']);
  const open = async (origin) => {
    const c = new Raw(n.ws, { headers: { Origin: origin } });
    try { await c.open(); c.close(); return true; } catch { return false; }
  };
  assert.equal(await open('https://app.example.com'), true);
  assert.equal(await open('HTTPS://APP.EXAMPLE.COM'), true);
  assert.equal(await open('https://chat.example.org'), true);
  assert.equal(await open('http://app.example.com'), false); // scheme matters
  assert.equal(await open('https://example.org.evil.net'), false);
  assert.equal(await open('https://evilexample.org'), false);
  assert.equal(await open(n.url), false); // a list replaces the same-origin default
});

function rss(n) {
  const m = readFileSync(`/proc/${n.proc.pid}/status`, 'utf8').match(/^RssAnon:\s+(\d+) kB/m);
  return Number(m[1]) * 1024;
}

test('a client that stops reading is closed with 3008, memory stays bounded, and it recovers everything', async () => {
  // A long close timeout: the close frame waits for the paused reader.
  const n = await node(['--websocket.max_queued_bytes=256KiB', '--channels.ring_size=16', '--websocket.close_timeout=60s',
                        '--journal.durability=normal']);
  const channel = 'chat:firehose';
  const subscribe = async () => {
    const c = await connected(n);
    c.send(JSON.stringify({ subscribe: { channel, recover: true, offset: 0, epoch: '' }, id: 2 }));
    const r = await c.until((m) => m.id === 2);
    return { c, epoch: r.subscribe.epoch };
  };
  const bystander = await subscribe();
  const slow = await subscribe();
  // The slow client stops reading: the socket stays open, its buffers fill.
  slow.c.ws.pause();
  const base = rss(n);

  // 4 KiB publications, 40 MiB in all: far past what socket buffers hold.
  const total = 10000;
  const text = 'x'.repeat(4096);
  let next = 0;
  const acked = [];
  const publisher = async () => {
    while (next < total) {
      const i = ++next;
      const res = await n.fetch(`/api/streams/${channel}`, {
        method: 'POST', body: JSON.stringify({ type: 'message', data: { i, text } }),
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(res.status, 200);
      acked.push(i);
    }
  };
  // While they publish, sample what the node holds for its clients.
  let peak = 0, peakQueued = 0, sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, rss(n));
      peakQueued = Math.max(peakQueued, await metric(n, 'herald_outbound_queued_bytes_max'));
    }
  })();
  await Promise.all(Array.from({ length: 16 }, publisher));

  // The bystander got every publication, in order.
  const got = [];
  while (got.length < total) {
    const m = await bystander.c.until((x) => x.push?.pub, 10000);
    got.push(m.push.pub.offset);
  }
  sampling = false;
  await sampler;
  assert.deepEqual(got, Array.from({ length: total }, (_, k) => k + 1));
  assert.equal(acked.length, total);
  await until(async () => (await metric(n, 'herald_slow_consumers_total')) === 1, 'the slow consumer to be dropped');
  // What the node held for the slow client stayed bounded: its queue never
  // passed the 256 KiB bound by more than the batch in flight, though 40 MiB
  // went past it.
  assert.ok(peakQueued > 0, 'the sampler saw a backlog');
  assert.ok(peakQueued <= 2 * 256 * 1024, `largest outbound queue ${peakQueued} bytes`);
  // Memory: the page caches of the journal's connections (up to 64 + 3 x 32
  // MiB by design) fill with the 40 MiB written; nothing grows with what the
  // slow client did not read.
  // (Under AddressSanitizer, whose quarantine holds freed memory by design,
  // RSS says nothing about herald; the queue gauge above still does.)
  const grew = (peak - base) / 1048576;
  console.log(`anonymous RSS grew ${grew.toFixed(1)} MiB; largest queue ${peakQueued} bytes`);
  const sanitized = readFileSync(`/proc/${n.proc.pid}/maps`, 'utf8').includes('libasan');
  if (!sanitized) assert.ok(grew < 160, `anonymous RSS grew ${grew.toFixed(1)} MiB`);

  // Reading again, the slow client finds the close after what was sent.
  let seen = 0;
  slow.c.ws.resume();
  const closed = await slow.c.closed;
  assert.equal(closed.code, 3008);
  assert.equal(closed.reason, 'slow');
  const received = [...slow.c.pending];
  for (const f of slow.c.frames) received.push(...f.text.split('\n').filter(Boolean).map((l) => JSON.parse(l)));
  for (const m of received)
    if (m.push?.pub) { assert.equal(m.push.pub.offset, seen + 1); seen = m.push.pub.offset; }
  assert.ok(seen < total, 'the slow client was cut off before the end');

  // Back with its position, it recovers the rest from the journal.
  const back = await connected(n);
  back.send(JSON.stringify({ subscribe: { channel, recover: true, offset: seen, epoch: slow.epoch }, id: 2 }));
  const reply = await back.until((m) => m.id === 2);
  assert.equal(reply.subscribe.recovered, true, JSON.stringify(reply).slice(0, 300));
  const recovered = (reply.subscribe.publications || []).map((p) => p.offset);
  while (seen + recovered.length < total) {
    const m = await back.until((x) => x.push?.pub, 10000);
    recovered.push(m.push.pub.offset);
  }
  assert.deepEqual(recovered, Array.from({ length: total - seen }, (_, k) => seen + k + 1));
  back.close();
  bystander.c.close();
});

test('past websocket.max_appends_in_flight a connection\'s publishes wait in the session: all answered, stored in the order sent', async () => {
  const n = await node(['--websocket.max_appends_in_flight=2', '--websocket.publish_rate=0',
                        '--websocket.command_rate=0']);
  const c = await connected(n);
  const total = 200;
  // One message: the session reads all of them in one turn, before any
  // answer can come back, so exactly two go out and the rest wait.
  const commands = [];
  for (let k = 0; k < total; k += 1) {
    if (k === 100) {
      // An rpc append takes the same queue: its expected version holds
      // only if the 100 publishes before it were stored first.
      commands.push(JSON.stringify({ id: 2 + k, rpc: { method: 'append', data: {
        channel: 'chat:queue', type: 'message', expected_version: 100, data: { seq: k } } } }));
    } else {
      commands.push(JSON.stringify({ id: 2 + k, publish: { channel: 'chat:queue', data: { seq: k } } }));
    }
  }
  c.send(commands.join('\n'));
  const answered = new Map();
  while (answered.size < total) {
    const m = await c.until((x) => x.id >= 2);
    answered.set(m.id, m);
  }
  for (const [id, m] of answered) assert.equal(m.error, undefined, `command ${id}: ${JSON.stringify(m.error)}`);
  assert.deepEqual(answered.get(102).rpc.data.offset, 101);
  assert.equal(await metric(n, 'herald_appends_waited_total'), total - 2);
  const stream = await n.json(`/api/streams/chat%3Aqueue?limit=${total}`);
  assert.deepEqual(stream.body.events.map((e) => e.data.seq), Array.from({ length: total }, (_, k) => k));
  c.close();
});
