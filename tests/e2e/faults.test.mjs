// Graceful behaviour under faults, against the real binary:
//   - a full disk (a small tmpfs filled with a filler file): appends fail
//     with a temporary error (WebSocket 100 "temporary", REST 503) that says
//     the disk is full; the node stays up and serves reads; once the filler
//     is gone appends work again, nothing acknowledged is lost, nothing
//     refused is stored, the projection catches up (and a kill -9 after all
//     this loses nothing either);
//   - a data directory that cannot be written (a read-only mount): herald
//     refuses to start with one clear line naming the journal and the
//     reason, changes nothing, and starts normally once it is writable;
//   - a damaged projection file (overwritten while the node is stopped):
//     that projection is faulted, not fatal; the node, the journal, reads
//     and the other projection go on, and a rebuild repairs it.
// The first two need root and `mount -t tmpfs`; without them they are
// skipped with the reason.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, mkdirSync, rmSync, openSync, writeSync, closeSync, readFileSync, writeFileSync,
         readdirSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Centrifuge } from 'centrifuge';
import WebSocket from 'ws';
import { Herald, until } from './lib/herald.mjs';

const cleanups = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/// A tmpfs of `size` on a fresh directory, unmounted at the end; or
/// { reason } when this sandbox cannot mount one.
function tmpfs(size) {
  if (process.getuid?.() !== 0) return { reason: 'mounting a tmpfs needs root' };
  const dir = mkdtempSync(join(tmpdir(), 'herald-fault-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    return { reason: `mount -t tmpfs failed: ${String(e.stderr || e.message).trim()}` };
  }
  cleanups.push(() => {
    try { execFileSync('umount', [dir], { stdio: 'pipe' }); } catch { /* already gone */ }
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir };
}

const remount = (dir, mode) => execFileSync('mount', ['-o', `remount,${mode}`, dir], { stdio: 'pipe' });

/// Fills the file system holding `path` with one file until it refuses
/// (ENOSPC), down to single bytes; returns the bytes written.
function fill(path) {
  const fd = openSync(path, 'a');
  let total = 0;
  try {
    for (let chunk = 1 << 20; chunk >= 1; chunk >>= 4) {
      const buf = Buffer.alloc(chunk, 0x5a);
      for (;;) {
        try {
          total += writeSync(fd, buf);
        } catch (e) {
          if (e.code !== 'ENOSPC') throw e;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return total;
}

function client(herald) {
  const c = new Centrifuge(herald.ws, { websocket: WebSocket, minReconnectDelay: 50, maxReconnectDelay: 200 });
  c.on('error', () => {});
  cleanups.push(() => c.disconnect());
  return c;
}

/// One request on a connection of its own: these tests restart the node, and
/// a keep-alive socket to the previous process would fail the next request.
function request(herald, path, { method = 'GET', body } = {}) {
  return new Promise((resolve, reject) => {
    // Without an API key a POST must say it is JSON (docs/security.md).
    const headers = method === 'POST' ? { 'content-type': 'application/json' } : {};
    const req = http.request({ host: '127.0.0.1', port: herald.port, path, method, agent: false, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        let parsed = text;
        if (/json/.test(res.headers['content-type'] || '')) parsed = JSON.parse(text);
        resolve({ status: res.statusCode, body: parsed });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const get = (herald, path) => request(herald, path);
const post = (herald, stream, body) =>
  request(herald, '/api/streams/' + encodeURIComponent(stream), { method: 'POST', body: JSON.stringify(body) });

async function readStream(herald, stream) {
  const events = [];
  for (let from = 1; ;) {
    const r = await get(herald, `/api/streams/${encodeURIComponent(stream)}?from=${from}&limit=1000`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    events.push(...r.body.events);
    if (r.body.events.length < 1000) return events;
    from = events.length + 1;
  }
}

/// Polls until the projection is running and has applied `head`.
async function caughtUp(herald, name, head, ms = 15000) {
  await until(async () => {
    const p = (await get(herald, `/api/projections/${name}`)).body;
    return p.status === 'running' && p.position >= head;
  }, `projection ${name} to catch up to ${head}`, ms);
}

/// The chat projection's rooms row for `room`, computed from the journal.
function expectedRoom(events) {
  const last = events.at(-1);
  return { messages: events.filter((e) => e.type === 'message').length, last_position: last.position,
           last_time: last.time };
}

test('a full disk: temporary errors, reads go on, appends work again when space returns', async (t) => {
  const fs = tmpfs('6m');
  if (fs.reason) return t.skip(fs.reason);
  const dataDir = join(fs.dir, 'data');
  const herald = new Herald(['--websocket.publish_rate=0'], { dataDir });
  cleanups.push(() => herald.cleanup());
  await herald.start();
  const channel = 'chat:disk';
  const c = client(herald);
  const sub = c.newSubscription(channel);
  const received = [];
  sub.on('publication', (ctx) => received.push(ctx.offset));
  sub.subscribe();
  c.connect();
  await sub.ready();

  // Every append we make, and what became of it.
  const acked = new Map(); // text -> offset (undefined for a WS publish: found by text)
  const refused = new Set();
  let n = 0;
  const big = () => `${n++} ` + 'x'.repeat(6000);
  const restAppend = async () => {
    const text = big();
    const r = await post(herald, channel, { type: 'message', data: { author: 'rest', text } });
    if (r.status === 200) acked.set(text, r.body.version);
    else refused.add(text);
    return { text, ...r };
  };
  const wsPublish = async () => {
    const text = big();
    try {
      await sub.publish({ author: 'ws', text });
      acked.set(text, undefined);
      return { text, ok: true };
    } catch (error) {
      refused.add(text);
      return { text, ok: false, error };
    }
  };
  for (let i = 0; i < 10; i++) assert.equal((await restAppend()).status, 200);
  for (let i = 0; i < 10; i++) assert.ok((await wsPublish()).ok);

  // Fill the disk. SQLite may still find room in the pages the journal
  // already has, so keep appending until the disk refuses.
  const filler = join(fs.dir, 'filler');
  const filled = fill(filler);
  t.diagnostic(`filler: ${filled} bytes`);
  let failure;
  for (let i = 0; i < 300 && !failure; i++) {
    const r = await restAppend();
    if (r.status !== 200) failure = r;
  }
  assert.ok(failure, 'no REST append failed on a full disk');
  assert.equal(failure.status, 503, JSON.stringify(failure.body));
  assert.equal(failure.body.error.code, 'unavailable');
  assert.match(failure.body.error.message, /disk is full/);
  let wsFailure;
  for (let i = 0; i < 100 && !wsFailure; i++) {
    const r = await wsPublish();
    if (!r.ok) wsFailure = r.error;
  }
  assert.ok(wsFailure, 'no WebSocket publish failed on a full disk');
  assert.equal(wsFailure.code, 100, JSON.stringify(wsFailure));
  assert.equal(wsFailure.temporary, true, JSON.stringify(wsFailure));
  // The rpc append says the same.
  const rpcText = big();
  refused.add(rpcText);
  await assert.rejects(c.rpc('append', { channel, type: 'message', data: { text: rpcText } }),
                       (e) => e.code === 100 && e.temporary === true);
  t.diagnostic(`full: REST ${failure.status} ${JSON.stringify(failure.body)}; WebSocket ${JSON.stringify(wsFailure)}`);

  // The node stays up and serves reads.
  const health = await get(herald, '/health');
  assert.equal(health.status, 200);
  assert.equal(health.body.status, 'ok');
  let events = await readStream(herald, channel);
  const texts = events.map((e) => e.data.text);
  for (const [text, offset] of acked) {
    const at = texts.indexOf(text);
    assert.ok(at >= 0, `acknowledged ${text.slice(0, 8)} missing while the disk is full`);
    if (offset !== undefined) assert.equal(events[at].version, offset);
  }
  const epoch = (await get(herald, `/api/streams/${channel}`)).body.epoch;
  const history = [];
  for (let page; !page || page.publications.length === 50;) {
    page = await sub.history({ limit: 50, since: { offset: history.length, epoch } });
    history.push(...page.publications);
  }
  assert.deepEqual(history.map((p) => p.data.text), texts);
  const rooms = await get(herald, '/api/queries/rooms');
  assert.equal(rooms.status, 200, JSON.stringify(rooms.body));
  const projections = await get(herald, '/api/projections');
  assert.equal(projections.status, 200);
  t.diagnostic(`projections while full: ${JSON.stringify(projections.body)}`);
  assert.equal(c.state, 'connected');
  assert.match(herald.log, /journal: appends fail until the disk accepts writes again: .*disk is full/);

  // Space returns: appends work again at once, over both paths.
  rmSync(filler);
  const after1 = await restAppend();
  assert.equal(after1.status, 200, JSON.stringify(after1.body));
  assert.ok((await wsPublish()).ok);
  const rpc = await c.rpc('append', { channel, type: 'message', data: { author: 'rpc', text: 'rpc after' } });
  acked.set('rpc after', rpc.data.offset);
  for (let i = 0; i < 5; i++) assert.equal((await restAppend()).status, 200);
  assert.match(herald.log, /journal: appends work again/);

  // Nothing acknowledged lost, nothing refused stored, offsets 1..N.
  const check = async () => {
    events = await readStream(herald, channel);
    events.forEach((e, i) => assert.equal(e.version, i + 1));
    const byText = new Map(events.map((e) => [e.data.text, e]));
    assert.equal(byText.size, events.length, 'an event is stored twice');
    for (const [text, offset] of acked) {
      assert.ok(byText.has(text), `acknowledged ${text.slice(0, 8)} lost`);
      if (offset !== undefined) assert.equal(byText.get(text).version, offset);
    }
    for (const text of refused) assert.ok(!byText.has(text), `refused ${text.slice(0, 8)} was stored`);
    assert.equal(events.length, acked.size);
  };
  await check();
  // The subscriber got every publication, in order.
  await until(() => received.length === events.length, 'the subscriber to receive every publication');
  assert.deepEqual(received, events.map((e) => e.version));
  // The projection (faulted for a while: its file is on the same disk) heals.
  await caughtUp(herald, 'chat', events.at(-1).position);
  const status = (await get(herald, '/api/projections/chat')).body;
  assert.equal(status.error, undefined);
  assert.equal(status.faulted_position, undefined);
  const row = (await get(herald, '/api/queries/rooms')).body.rows.find((r) => r.room === 'disk');
  assert.deepEqual({ messages: row.messages, last_position: row.last_position, last_time: row.last_time },
                   expectedRoom(events));
  // And a crash after all this loses nothing.
  await herald.kill9();
  await herald.restart();
  await check();
  t.diagnostic(`${acked.size} acknowledged appends kept, ${refused.size} refused and not stored`);
});

test('a full disk under the read models only: the projection is faulted for a while, then catches up', async (t) => {
  // The journal on a roomy disk, the projections on a small one of their own.
  const dir = mkdtempSync(join(tmpdir(), 'herald-fault-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const dataDir = join(dir, 'data');
  mkdirSync(join(dataDir, 'projections'), { recursive: true });
  const fs = tmpfs('2m');
  if (fs.reason) return t.skip(fs.reason);
  execFileSync('mount', ['--bind', fs.dir, join(dataDir, 'projections')], { stdio: 'pipe' });
  cleanups.push(() => { try { execFileSync('umount', [join(dataDir, 'projections')], { stdio: 'pipe' }); } catch { /* gone */ } });
  // Ticks (which retry a temporary fault) every 500 ms instead of 5 s.
  const herald = new Herald(['--projections.snapshot_every=500ms'], { dataDir });
  cleanups.push(() => herald.cleanup());
  await herald.start();
  let head = 0;
  const append = async (text) => {
    const r = await post(herald, 'chat:models', { type: 'message', data: { author: 'ann', text } });
    assert.equal(r.status, 200, `the journal refused an append: ${JSON.stringify(r.body)}`);
    head = r.body.position;
  };
  for (let i = 0; i < 10; i++) await append(`small ${i}`);
  await caughtUp(herald, 'chat', head);

  const filler = join(fs.dir, 'filler');
  fill(filler);
  let status;
  for (let i = 0; i < 200; i++) {
    await append(`${i} ` + 'y'.repeat(6000));
    status = (await get(herald, '/api/projections/chat')).body;
    if (status.status === 'faulted') break;
  }
  t.diagnostic(`faulted: ${JSON.stringify(status)}`);
  assert.equal(status.status, 'faulted', 'the projection never noticed its full disk');
  assert.match(status.error, /disk is full/);
  // The journal, its reads and the stale read model still answer.
  await append('while faulted');
  assert.equal((await readStream(herald, 'chat:models')).at(-1).data.text, 'while faulted');
  const stale = await get(herald, '/api/queries/rooms');
  assert.equal(stale.status, 200);
  assert.ok(stale.body.position < head);
  assert.equal((await get(herald, '/health')).status, 200);

  rmSync(filler);
  await caughtUp(herald, 'chat', head);
  const healed = (await get(herald, '/api/projections/chat')).body;
  assert.equal(healed.error, undefined, JSON.stringify(healed));
  assert.equal(healed.faulted_position, undefined, JSON.stringify(healed));
  const events = await readStream(herald, 'chat:models');
  const row = (await get(herald, '/api/queries/rooms')).body.rows.find((r) => r.room === 'models');
  assert.deepEqual({ messages: row.messages, last_position: row.last_position, last_time: row.last_time },
                   expectedRoom(events));
  const messages = (await get(herald, '/api/queries/messages?room=models&limit=1000')).body.rows;
  assert.deepEqual(messages.map((m) => [m.offset, m.text]).reverse(), events.map((e) => [e.version, e.data.text]));
});

test('an unwritable data directory: a clear error at start, nothing changed', async (t) => {
  const fs = tmpfs('16m');
  if (fs.reason) return t.skip(fs.reason);
  const dataDir = join(fs.dir, 'data');
  let herald = new Herald([], { dataDir });
  await herald.start();
  for (let i = 1; i <= 3; i++)
    assert.equal((await post(herald, 'chat:ro', { type: 'message', data: { text: `m${i}` } })).status, 200);
  assert.equal((await herald.stop()).code, 0);
  const files = () => Object.fromEntries(readdirSync(dataDir, { recursive: true })
    .map((f) => [f, statSync(join(dataDir, f))]).filter(([, s]) => s.isFile())
    .map(([f, s]) => [f, `${s.size} ${s.mtimeMs}`]));
  const before = files();

  const refused = async () => {
    const h = new Herald([], { dataDir });
    await assert.rejects(h.start(), (e) => {
      assert.match(e.message, /herald exited \(1\) before listening/);
      assert.match(e.message, new RegExp(`${dataDir}/journal\\.db: the journal cannot be written \\(Read-only file system\\); herald needs a writable data directory`));
      return true;
    });
    t.diagnostic(h.log.trim().split('\n').at(-1));
  };
  remount(fs.dir, 'ro');
  cleanups.push(() => { try { remount(fs.dir, 'rw'); } catch { /* unmounted */ } });
  // An existing journal it cannot write, after a clean stop.
  await refused();
  // A data directory it cannot create.
  const fresh = new Herald([], { dataDir: join(fs.dir, 'fresh') });
  await assert.rejects(fresh.start(), (e) => {
    assert.match(e.message, /herald exited \(1\) before listening/);
    assert.match(e.message, /Read-only file system/);
    assert.ok(e.message.includes(join(fs.dir, 'fresh')));
    return true;
  });
  t.diagnostic(fresh.log.trim().split('\n').at(-1));

  // Writable again: it starts and everything is there.
  remount(fs.dir, 'rw');
  assert.deepEqual(files(), before, 'a refused start changed the data directory');
  herald = new Herald([], { dataDir });
  cleanups.push(() => herald.cleanup());
  await herald.start();
  assert.deepEqual((await readStream(herald, 'chat:ro')).map((e) => e.data.text), ['m1', 'm2', 'm3']);
  assert.equal((await post(herald, 'chat:ro', { type: 'message', data: { text: 'm4' } })).body.version, 4);
  // After a crash (its -wal and -shm left behind, where SQLite would open the
  // journal read-only without a word): the same clear refusal.
  await herald.kill9();
  remount(fs.dir, 'ro');
  await refused();
  remount(fs.dir, 'rw');
  await herald.restart();
  assert.deepEqual((await readStream(herald, 'chat:ro')).map((e) => e.data.text), ['m1', 'm2', 'm3', 'm4']);
});

/// The embedded default plus a second projection over every event.
function twoProjectionsConfig(dir) {
  const base = readFileSync(new URL('../../config/herald.default.toml', import.meta.url), 'utf8');
  const path = join(dir, 'herald.toml');
  writeFileSync(path, `${base}
[[projection]]
name = "streams"
schema = "CREATE TABLE streams (stream TEXT PRIMARY KEY, events INTEGER NOT NULL, last_position INTEGER NOT NULL);"

[[projection.handler]]
sql = """
INSERT INTO streams (stream, events, last_position) VALUES (:stream, 1, :position)
ON CONFLICT (stream) DO UPDATE SET events = events + 1, last_position = excluded.last_position;
"""

[[query]]
name = "streams"
projection = "streams"
sql = "SELECT stream, events, last_position FROM streams ORDER BY stream"
`);
  return path;
}

/// Overwrites `path` from byte `from` to its end with random bytes.
function garble(path, from) {
  const size = statSync(path).size;
  assert.ok(size > from, `${path} has ${size} bytes`);
  const fd = openSync(path, 'r+');
  writeSync(fd, randomBytes(size - from), 0, size - from, from);
  closeSync(fd);
}

test('a damaged projection file: that projection is faulted, the node and the rest go on', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-damage-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const dataDir = join(dir, 'data');
  const herald = new Herald(['--config', twoProjectionsConfig(dir)], { dataDir });
  cleanups.push(() => herald.cleanup());
  await herald.start();
  let head = 0;
  const traffic = async (count, tag) => {
    for (let i = 0; i < count; i++) {
      const r = await post(herald, `chat:room${i % 4}`, { type: i % 5 ? 'message' : 'typing',
                                                          data: { author: 'ann', text: `${tag} ${i}` } });
      assert.equal(r.status, 200);
      head = r.body.position;
    }
  };
  await traffic(400, 'before');
  await caughtUp(herald, 'chat', head);
  await caughtUp(herald, 'streams', head);
  const c = client(herald);
  c.connect();

  // Each a damage done while herald is stopped: where the file starts (its
  // schema: found when the projection opens it) and past its first pages
  // (its tables: found when the projection next writes there).
  for (const [where, from] of [['schema', 100], ['tables', 2 * 4096]]) {
    assert.equal((await herald.stop()).code, 0);
    const pdir = join(dataDir, 'projections', 'chat');
    const live = readdirSync(pdir).filter((f) => /^live-\d+\.db$/.test(f)).sort().at(-1);
    garble(join(pdir, live), from);
    // A stop may leave a WAL (when a query's read-only connection closed
    // last), whose pages would hide the damage: it goes bad too.
    if (readdirSync(pdir).includes(live + '-wal') && statSync(join(pdir, live + '-wal')).size > 0)
      garble(join(pdir, live + '-wal'), 0);
    await herald.restart();
    await traffic(20, `after ${where}`);

    const chat = await until(async () => (await get(herald, '/api/projections/chat')).body.status === 'faulted',
                             `projection chat to be reported faulted (damaged ${where})`)
      .then(async () => (await get(herald, '/api/projections/chat')).body);
    t.diagnostic(`damaged ${where}: ${JSON.stringify(chat)}`);
    assert.match(chat.error, /database disk image is malformed.*rebuild the projection/);
    assert.ok(chat.position < head);
    if (where === 'tables') assert.ok(chat.faulted_position > 0);
    const metrics = await (await get(herald, '/metrics')).body;
    assert.match(metrics, /^herald_projection_faulted\{projection="chat"\} 1$/m);
    // A query over it gets a clear temporary error, not a crash.
    const rooms = await get(herald, '/api/queries/messages?room=room1');
    assert.equal(rooms.status, 503, JSON.stringify(rooms.body));
    assert.ok(['unavailable', 'damaged'].includes(rooms.body.error.code), JSON.stringify(rooms.body));
    // The node, the journal, reads and the other projection go on.
    assert.equal((await get(herald, '/health')).status, 200);
    await traffic(5, `still ${where}`);
    await caughtUp(herald, 'streams', head);
    const streams = (await get(herald, '/api/queries/streams')).body.rows;
    for (let r = 0; r < 4; r++) {
      const events = await readStream(herald, `chat:room${r}`);
      assert.deepEqual(streams.find((s) => s.stream === `chat:room${r}`),
                       { stream: `chat:room${r}`, events: events.length, last_position: events.at(-1).position });
    }
    const rpc = await c.rpc('append', { channel: 'chat:room0', type: 'message', data: { author: 'ws', text: where } });
    head = rpc.data.position;
    const history = await c.history('chat:room0', { limit: 1, reverse: true });
    assert.equal(history.publications[0].data.text, where);

    // A rebuild repairs it: the fold of the journal again.
    const rebuild = await request(herald, '/api/projections/chat/rebuild', { method: 'POST' });
    assert.equal(rebuild.status, 202);
    await caughtUp(herald, 'chat', head);
    const rows = (await get(herald, '/api/queries/rooms')).body.rows;
    for (let r = 0; r < 4; r++) {
      const row = rows.find((x) => x.room === `room${r}`);
      assert.deepEqual({ messages: row.messages, last_position: row.last_position, last_time: row.last_time },
                       expectedRoom(await readStream(herald, `chat:room${r}`)));
    }
    assert.match(await (await get(herald, '/metrics')).body, /^herald_projection_faulted\{projection="chat"\} 0$/m);
  }
});
