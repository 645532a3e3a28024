// The demo page in headless Chromium (Debian's chromium, driven by
// playwright-core): two pages in the same room; a message sent in one
// appears in the other, and in the REST read model behind the rooms list.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { Herald, until } from './lib/herald.mjs';

const herald = new Herald();
let browser;

before(async () => {
  await herald.start();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  if (browser) await browser.close();
  await herald.cleanup();
});

async function openChat(name) {
  const page = await browser.newPage();
  await page.goto(herald.url + '/');
  await page.fill('#name', name);
  await page.press('#name', 'Enter');
  await page.waitForFunction(() => document.getElementById('status').textContent === 'connected');
  await page.waitForSelector('#text:not([disabled])');
  return page;
}

test('a message sent in one page appears in the other', async () => {
  const alice = await openChat('alice');
  const bob = await openChat('bob');
  await alice.fill('#text', 'hello bob');
  await alice.click('#send-button');
  await bob.waitForSelector('#messages li >> text=hello bob', { timeout: 10000 });
  const line = await bob.textContent('#messages li:last-child');
  assert.match(line, /alice/);
  await bob.fill('#text', 'hi alice');
  await bob.press('#text', 'Enter');
  await alice.waitForSelector('#messages li >> text=hi alice', { timeout: 10000 });
  // Both messages are in the read model, in order.
  await until(async () => (await herald.json('/api/queries/messages?room=lobby')).body.rows.length === 2,
              'the read model');
  const rows = (await herald.json('/api/queries/messages?room=lobby')).body.rows;
  assert.deepEqual(rows.map((r) => r.text), ['hi alice', 'hello bob']);
  // A page opened later loads the history from the read model.
  const carol = await openChat('carol');
  await carol.waitForSelector('#messages li >> text=hello bob');
  assert.equal(await carol.locator('#messages li').count(), 2);
});

test('a display name, an @mention and the inbox panel: live, and again after a reload', async () => {
  const dana = await openChat('dana');
  await dana.fill('#display-name', 'Dana Scully');
  await dana.press('#display-name', 'Enter');
  await dana.waitForSelector('#display-name[data-saved="Dana Scully"]');
  const fox = await openChat('fox');
  await dana.fill('#text', 'the files are here @fox');
  await dana.press('#text', 'Enter');
  // Live: the mentions processor delivers it to inbox:fox, with the
  // author's display name from the users read model.
  const item = await fox.waitForSelector('#inbox li', { timeout: 10000 });
  assert.match(await item.textContent(), /Dana Scully.*#lobby.*the files are here @fox/);
  // A message without a mention reaches nobody's inbox.
  await dana.fill('#text', 'no mention here');
  await dana.press('#text', 'Enter');
  await fox.waitForSelector('#messages li >> text=no mention here');
  assert.equal(await fox.locator('#inbox li').count(), 1);
  // After a reload the panel shows it again, from the inbox's history.
  await fox.reload();
  await fox.waitForFunction(() => document.getElementById('status').textContent === 'connected');
  const again = await fox.waitForSelector('#inbox li', { timeout: 10000 });
  assert.match(await again.textContent(), /Dana Scully.*the files are here/);
  assert.equal(await fox.locator('#inbox li').count(), 1);
  // The author's own name when there is no profile.
  await fox.fill('#text', 'back to you @dana');
  await fox.press('#text', 'Enter');
  const back = await dana.waitForSelector('#inbox li', { timeout: 10000 });
  assert.match(await back.textContent(), /^fox.*back to you/);
});
