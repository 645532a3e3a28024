// The docs, run as written: docs/getting-started.md step by step against a
// real herald, the SDK example of docs/protocol.md on this Node, and
// docs/operations.md against what /metrics outputs.
//
// How a markdown file marks what this test runs (fenced code blocks; the
// words after the language do not show when the markdown is rendered):
//   ```sh            shell commands, run in order with bash in a scratch
//                    directory; each must exit 0.
//   ```sh serve      a `build/herald serve ...` command: the node is started
//                    with those arguments (plus --listen 127.0.0.1:0, and a
//                    scratch --data-dir that the command's own wins over) and
//                    kept until the next `sh serve` block or the end.
//   ```sh setup      installation (scripts/setup.sh): not run here.
//   ```toml file=F   written to F in the scratch directory.
//   ```LANG output   what the command block before it prints. Line by line:
//                    a JSON line must hold every field the doc shows, with
//                    those values (replies are trimmed in the doc); any other
//                    line must be equal. Blocks that only read (no -X, no -d)
//                    are run again until they match, for at most 10 s: read
//                    models follow the journal asynchronously.
//   <!-- docs-test page name="N" text="T" -->
//                    the demo page step, done in headless Chromium: enter the
//                    name, send the text, see it in the list.
// In commands, build/herald is the binary under test and 127.0.0.1:8000 the
// node's real address.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { Herald, binary, until } from './lib/herald.mjs';

const docs = new URL('../../docs/', import.meta.url).pathname;
const e2eDir = new URL('.', import.meta.url).pathname;
const scratch = mkdtempSync(join(tmpdir(), 'herald-docs-'));
const nodes = [];

after(async () => {
  for (const n of nodes) await n.cleanup();
  rmSync(scratch, { recursive: true, force: true });
});

/// The marked blocks and comments of a markdown file, in order.
function steps(markdown) {
  const out = [];
  const re = /^```(\S*)([^\n]*)\n([\s\S]*?)^```$|<!-- docs-test (\w+)([^>]*)-->/gm;
  for (let m; (m = re.exec(markdown));) {
    if (m[4]) {
      out.push({ kind: m[4], attrs: attributes(m[5]) });
      continue;
    }
    const words = m[2].trim().split(/\s+/).filter(Boolean);
    out.push({ kind: 'block', lang: m[1], words, attrs: attributes(m[2]), body: m[3] });
  }
  return out;
}

function attributes(text) {
  const attrs = {};
  for (const m of text.matchAll(/(\w+)=(?:"([^"]*)"|(\S+))/g)) attrs[m[1]] = m[2] ?? m[3];
  return attrs;
}

function run(script, port) {
  const text = script.replaceAll('build/herald', binary).replaceAll('127.0.0.1:8000', `127.0.0.1:${port}`);
  return new Promise((resolve) => {
    execFile('bash', ['-e', '-c', text], { cwd: scratch, timeout: 30000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (error.code ?? error.signal) : 0, stdout, stderr }));
  });
}

/// Whether `actual` holds everything `expected` shows.
function contains(actual, expected) {
  if (Array.isArray(expected))
    return Array.isArray(actual) && actual.length === expected.length &&
      expected.every((e, i) => contains(actual[i], e));
  if (expected !== null && typeof expected === 'object')
    return actual !== null && typeof actual === 'object' &&
      Object.entries(expected).every(([k, v]) => contains(actual[k], v));
  return actual === expected;
}

function matches(stdout, output) {
  const lines = (s) => s.split('\n').map((l) => l.trimEnd()).filter((l) => l.length > 0);
  const got = lines(stdout), want = lines(output.body);
  if (got.length !== want.length) return false;
  return want.every((w, i) => {
    if (output.lang !== 'json') return got[i] === w;
    try {
      return contains(JSON.parse(got[i]), JSON.parse(w));
    } catch {
      return false;
    }
  });
}

async function runBlock(block, output, port) {
  const readOnly = !/(^|\s)(-X|-d)\s/.test(block.body);
  const deadline = Date.now() + (output && readOnly ? 10000 : 0);
  for (;;) {
    const r = await run(block.body, port);
    assert.equal(r.code, 0, `${block.body}\nexited ${r.code}: ${r.stderr}`);
    if (!output || matches(r.stdout, output)) return r;
    if (Date.now() >= deadline)
      assert.fail(`${block.body}\nprinted:\n${r.stdout}\nthe doc shows:\n${output.body}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

async function serve(block) {
  const words = block.body.trim().split(/\s+/);
  assert.deepEqual(words.slice(0, 2), ['build/herald', 'serve'], block.body);
  process.chdir(scratch); // the command's relative paths are the reader's
  const node = new Herald(words.slice(2));
  nodes.push(node);
  await node.start();
  return node;
}

async function publishFromThePage(url, { name, text }) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    await page.goto(url + '/');
    await page.fill('#name', name);
    await page.press('#name', 'Enter');
    await page.waitForSelector('#text:not([disabled])');
    await page.fill('#text', text);
    await page.click('#send-button');
    await page.waitForSelector(`#messages li >> text=${text}`, { timeout: 10000 });
  } finally {
    await browser.close();
  }
}

test('docs/getting-started.md runs as written', async () => {
  const all = steps(readFileSync(join(docs, 'getting-started.md'), 'utf8'));
  let node = null;
  let ran = 0;
  for (let i = 0; i < all.length; i++) {
    const step = all[i];
    const next = all[i + 1];
    const output = next && next.kind === 'block' && next.words.includes('output') ? next : null;
    if (step.kind === 'page') {
      assert.ok(node, 'the page step needs a running node');
      await publishFromThePage(node.url, step.attrs);
      ran++;
    } else if (step.kind !== 'block' || step.words.includes('output') || step.words.includes('setup')) {
      continue;
    } else if (step.lang === 'toml' && step.attrs.file) {
      writeFileSync(join(scratch, step.attrs.file), step.body);
    } else if (step.lang === 'sh' && step.words.includes('serve')) {
      if (node) assert.equal((await node.stop()).code, 0, node.log); // the reader's Ctrl-C
      node = await serve(step);
      ran++;
    } else if (step.lang === 'sh') {
      await runBlock(step, output, node ? node.port : 8000);
      ran++;
    } else {
      assert.fail(`a ${step.lang} block that this test does not know how to run:\n${step.body}`);
    }
  }
  // Two nodes, the page, and the commands: a doc that lost its marks fails.
  assert.ok(ran >= 10, `only ${ran} steps ran`);
  // The projection's files are where docs/configuration.md says.
  assert.ok(existsSync(join(scratch, 'todo-data/projections/todos/live-000001.db')));
  const reference = readFileSync(join(docs, 'configuration.md'), 'utf8');
  assert.match(reference, /`<data_dir>\/projections\/NAME\/`/);
  assert.match(reference, /`live-NNNNNN\.db`/);
});

test('the SDK example of docs/protocol.md runs on this Node and exits by itself', async () => {
  const all = steps(readFileSync(join(docs, 'protocol.md'), 'utf8'));
  const at = all.findIndex((s) => s.kind === 'block' && s.lang === 'js');
  assert.ok(at >= 0, 'no js block');
  const example = all[at], output = all[at + 1];
  assert.ok(output && output.words.includes('output'), 'the example shows no output');
  const node = new Herald();
  nodes.push(node);
  await node.start();
  const dir = mkdtempSync(join(scratch, 'sdk-'));
  symlinkSync(join(e2eDir, 'node_modules'), join(dir, 'node_modules'));
  writeFileSync(join(dir, 'example.mjs'), example.body.replaceAll('127.0.0.1:8000', `127.0.0.1:${node.port}`));
  const r = await new Promise((resolve) => {
    execFile(process.execPath, ['example.mjs'], { cwd: dir, timeout: 20000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (error.code ?? error.signal) : 0, stdout, stderr }));
  });
  assert.equal(r.code, 0, `exited ${r.code}: ${r.stderr}`);
  assert.equal(r.stdout.trim(), output.body.trim());
});

test('docs/operations.md lists every metric /metrics outputs', async () => {
  const node = new Herald();
  nodes.push(node);
  await node.start();
  // Some series appear once there is traffic: an append, a projection.
  const res = await node.fetch('/api/streams/chat:lobby', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'message', data: { author: 'ops', text: 'x' } }),
  });
  assert.equal(res.status, 200);
  await until(async () => (await node.json('/api/queries/messages?room=lobby')).body.position === 1,
              'the projection');
  const text = await (await node.fetch('/metrics')).text();
  const names = new Set();
  const histograms = new Set();
  for (const line of text.split('\n')) {
    const type = line.match(/^# TYPE (\S+) (\S+)/);
    if (type) {
      names.add(type[1]);
      if (type[2] === 'histogram' || type[2] === 'summary') histograms.add(type[1]);
      continue;
    }
    const sample = line.match(/^([A-Za-z_:][A-Za-z0-9_:]*)/);
    if (!sample) continue;
    const base = sample[1].replace(/_(bucket|sum|count)$/, '');
    names.add(histograms.has(base) ? base : sample[1]);
  }
  assert.ok(names.size >= 10, `few metrics: ${[...names]}`);
  const ops = readFileSync(join(docs, 'operations.md'), 'utf8');
  const missing = [...names].filter((n) => !new RegExp('`' + n + '[`{]').test(ops));
  assert.deepEqual(missing, [], 'metrics missing from docs/operations.md');
});
