// The bad-input suite, descriptors and connection slots (issue 9, item 6):
// idle keep-alive sockets are counted (http.max_connections), running out of
// file descriptors does not make the accept loop spin, and sockets that
// never send `connect` are limited per address
// (websocket.max_pending_per_address).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { Herald, until } from './lib/herald.mjs';
import { Raw } from './lib/raw.mjs';

const nodes = [];
after(async () => {
  for (const n of nodes) await n.cleanup();
});

async function node(args) {
  const n = new Herald(args);
  nodes.push(n);
  return n.start();
}

/// A raw keep-alive HTTP connection: request() sends GET /health and
/// resolves with the status of its response.
class HttpConn {
  constructor(port) {
    this.sock = net.connect(port, '127.0.0.1');
    this.buf = '';
    this.waiters = [];
    this.received = 0;
    this.closed = new Promise((resolve) => this.sock.on('close', resolve));
    this.sock.on('error', () => {}); // a reset shows as the close
    this.sock.on('data', (d) => {
      this.received += d.length;
      this.buf += d.toString();
      this.waiters.splice(0).forEach((w) => w());
    });
    this.sock.on('close', () => this.waiters.splice(0).forEach((w) => w()));
  }

  async request(ms = 10000) {
    this.sock.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const deadline = Date.now() + ms;
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end >= 0) {
        const head = this.buf.slice(0, end);
        const length = Number(head.match(/content-length:\s*(\d+)/i)?.[1] ?? 0);
        if (this.buf.length >= end + 4 + length) {
          this.buf = this.buf.slice(end + 4 + length);
          return Number(head.split(' ')[1]);
        }
      }
      if (this.sock.destroyed) throw new Error('the connection closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no response');
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  close() { this.sock.destroy(); }
}

/// Whether a new connection is accepted and served (200 on /health).
async function servesANewConnection(port) {
  const c = new HttpConn(port);
  try {
    return (await c.request(2000)) === 200;
  } catch {
    return false;
  } finally {
    c.close();
  }
}

test('keep-alive HTTP connections count against http.max_connections; more are closed at once', async () => {
  const max = 8;
  const n = await node([`--http.max_connections=${max}`]);
  const open = [];
  for (let i = 0; i < max; i++) {
    const c = new HttpConn(n.port);
    assert.equal(await c.request(), 200);
    open.push(c);
  }
  // One more: closed right after accept, without a response.
  const extra = new HttpConn(n.port);
  extra.sock.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  await Promise.race([extra.closed, new Promise((_, reject) => setTimeout(() => reject(new Error('the extra connection stayed open')), 5000))]);
  assert.equal(extra.received, 0);
  // The open ones are still served.
  for (const c of open) assert.equal(await c.request(), 200);
  // A slot that frees up is taken again.
  open.pop().close();
  await until(() => servesANewConnection(n.port), 'a connection to be accepted again');
  for (const c of open) c.close();
});

/// CPU seconds the process has used (user + system).
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime: fields 14 and 15
}

test('out of file descriptors, the accept loop backs off instead of spinning, and recovers', async () => {
  const n = await node([]);
  const pid = n.proc.pid;
  // Start-up work (the demo projection's first build) is done first: it
  // opens files of its own.
  await until(() => n.log.includes('rebuilt'), 'the projection to be built');
  // Leave the node a few descriptors beyond what it uses now.
  const inUse = readdirSync(`/proc/${pid}/fd`).length;
  const limit = inUse + 6;
  execFileSync('prlimit', ['--pid', String(pid), `--nofile=${limit}:${limit}`]);
  // Idle keep-alive connections take them all; the rest wait in the backlog.
  const conns = Array.from({ length: 30 }, () => new HttpConn(n.port));
  for (const c of conns) c.sock.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  await until(() => n.log.includes('cannot accept connections') || cpuSeconds(pid) > 2,
              'the node to run out of descriptors');
  // Over a window, the node must stay mostly idle: a spinning accept loop
  // burns a whole core (about 1 s of CPU per second).
  const window = 2000;
  const before = cpuSeconds(pid);
  await new Promise((r) => setTimeout(r, window));
  const used = cpuSeconds(pid) - before;
  assert.ok(used < 0.3 * window / 1000, `${used.toFixed(2)} s of CPU in ${window} ms: the accept loop spins`);
  const warnings = n.log.split('\n').filter((l) => l.includes('cannot accept connections'));
  // One line per burst (a descriptor freed meanwhile may start another),
  // not one per attempt.
  assert.ok(warnings.length >= 1 && warnings.length <= 3, `${warnings.length} warnings:\n${n.log}`);
  // Once the sockets close, the node accepts again.
  for (const c of conns) c.close();
  await until(() => servesANewConnection(n.port), 'the node to accept again', 20000);
  await until(() => n.log.includes('accepting connections again'), 'the recovery to be logged');
});

/// A raw WebSocket that sends `connect` and waits for the reply.
async function authenticated(n) {
  const r = new Raw(n.ws);
  await r.open();
  r.send(JSON.stringify({ id: 1, connect: {} }));
  const reply = await r.until((m) => m.id === 1);
  assert.ok(reply.connect, JSON.stringify(reply));
  return r;
}

/// Opening a WebSocket that never sends connect: resolves with the Raw, or
/// with the HTTP status that refused the upgrade.
async function pending(n) {
  const r = new Raw(n.ws);
  try {
    await r.open();
    return { r };
  } catch (e) {
    const status = Number(e.message.match(/Unexpected server response: (\d+)/)?.[1] ?? 0);
    if (!status) throw e;
    return { status };
  }
}

test('connections that never send connect are limited per address; connected ones are not', async () => {
  const max = 4;
  const n = await node([`--websocket.max_pending_per_address=${max}`]);
  // Connected clients do not count, however many there are.
  const connected = [];
  for (let i = 0; i < max + 2; i++) connected.push(await authenticated(n));
  const held = [];
  for (let i = 0; i < max - 1; i++) {
    const p = await pending(n);
    assert.ok(p.r, `pending connection ${i + 1} refused with ${p.status}`);
    held.push(p.r);
  }
  // A client that authenticates passes while the address has room.
  connected.push(await authenticated(n));
  const last = await pending(n);
  assert.ok(last.r, `pending connection ${max} refused with ${last.status}`);
  held.push(last.r);
  // The address is full: the next upgrade is refused with 429.
  const refused = await pending(n);
  assert.equal(refused.status, 429);
  // The connected clients carry on.
  for (const [i, c] of connected.entries()) {
    c.send(JSON.stringify({ id: 2, presence_stats: { channel: 'chat:x' } }));
    const m = await c.until((x) => x.id === 2);
    assert.ok(m.presence_stats || m.error, `client ${i}: ${JSON.stringify(m)}`);
  }
  // A pending connection that goes frees its place.
  held.pop().close();
  await until(async () => {
    const p = await pending(n);
    if (p.r) held.push(p.r);
    return Boolean(p.r);
  }, 'a pending connection to be admitted again');
  for (const c of [...connected, ...held]) c.close();
});
