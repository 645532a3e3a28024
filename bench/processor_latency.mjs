// bench/processor_latency.mjs: append -> delivery latency on the source
// channel and on the channel a stream processor derives from it, in one run.
// Publishers send chat messages that mention one user at a fixed rate; one
// subscriber follows both chat:lat (the source) and inbox:lat-target (what
// the default config's mentions processor derives). Latency is from the
// publish's send to its arrival, on one clock (one process).
//
//   node bench/processor_latency.mjs --url ws://127.0.0.1:8000/connection/websocket
//        [--rate 1000] [--seconds 10]
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

// The ws package the end-to-end tests install (scripts/setup.sh).
const require = createRequire(new URL('../tests/e2e/package.json', import.meta.url));
const WebSocket = require('ws');

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, a, i, all) =>
  (a.startsWith('--') ? [...pairs, [a.slice(2), all[i + 1]]] : pairs), []));
const url = args.url;
const rate = Number(args.rate || 1000);
const seconds = Number(args.seconds || 10);
const warmup = 1000; // ms not measured
if (!url) { console.error('usage: processor_latency.mjs --url WS_URL [--rate N] [--seconds S]'); process.exit(2); }

function open() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const waiting = new Map();
    let next = 1;
    ws.on('error', reject);
    ws.on('open', () => {
      const call = (command) => new Promise((done, fail) => {
        const id = next++;
        waiting.set(id, { done, fail });
        ws.send(JSON.stringify({ id, ...command }));
      });
      resolve({ ws, call, waiting, onPush: null });
    });
    ws.on('message', (data) => {
      for (const line of data.toString().split('\n')) {
        if (!line) continue;
        const m = JSON.parse(line);
        if (m.id) {
          const w = waiting.get(m.id);
          waiting.delete(m.id);
          if (m.error) w?.fail(new Error(JSON.stringify(m.error))); else w?.done(m);
        } else if (m.push) {
          ws.client?.onPush?.(m.push);
        } else if (Object.keys(m).length === 0) {
          ws.send('{}'); // pong
        }
      }
    });
  }).then((c) => { c.ws.client = c; return c; });
}

const sent = new Map(); // seq -> send time (ms) of the publishes measured
const source = [], derived = [];
const subscriber = await open();
await subscriber.call({ connect: {} });
subscriber.onPush = (push) => {
  const seq = Number(push.pub?.data?.text?.slice(1));
  const at = sent.get(seq);
  if (at === undefined) return; // a warm-up publish
  (push.channel === 'chat:lat' ? source : derived).push(performance.now() - at);
};
await subscriber.call({ subscribe: { channel: 'chat:lat' } });
await subscriber.call({ subscribe: { channel: 'inbox:lat-target' } });

const publishers = await Promise.all([open(), open()]);
for (const p of publishers) await p.call({ connect: {} });

let seq = 0;
let errors = 0;
const start = performance.now();
let expected = 0;
await new Promise((resolve) => {
  const timer = setInterval(() => {
    const elapsed = performance.now() - start;
    if (elapsed >= warmup + seconds * 1000) { clearInterval(timer); resolve(); return; }
    const due = Math.floor((elapsed / 1000) * rate);
    while (seq < due) {
      seq += 1;
      if (elapsed >= warmup) {
        expected += 1;
        sent.set(seq, performance.now());
      }
      const p = publishers[seq % publishers.length];
      p.call({ publish: { channel: 'chat:lat', data: {
        type: 'message', author: 'lat-author', text: 't' + seq, mentions: ['lat-target'] } } })
        .catch(() => { errors += 1; });
    }
  }, 10); // a tick every 10 ms sends what is due
});
// Stragglers: up to 5 s for the last ones to arrive.
const deadline = performance.now() + 5000;
while ((source.length < expected || derived.length < expected) && performance.now() < deadline)
  await new Promise((r) => setTimeout(r, 20));

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN; };
const line = (name, xs) => `${name}: ${xs.length}/${expected} delivered, p50 ${pct(xs, 0.5).toFixed(2)} ms, p99 ${pct(xs, 0.99).toFixed(2)} ms, max ${Math.max(...xs).toFixed(2)} ms`;
console.log(`rate ${rate}/s, ${seconds} s, errors ${errors}`);
console.log(line('source  chat:lat        ', source));
console.log(line('derived inbox:lat-target', derived));
for (const c of [subscriber, ...publishers]) c.ws.terminate();
process.exit(source.length < expected || derived.length < expected || errors ? 1 : 0);
