// Starting and stopping the real herald binary for end-to-end tests.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const binary = process.env.HERALD_BINARY || new URL('../../../build/herald', import.meta.url).pathname;

/// A herald process on 127.0.0.1. `start()` waits until it listens;
/// `restart()` brings it back on the same port and data directory.
export class Herald {
  constructor(args = [], { dataDir } = {}) {
    this.args = args;
    this.dataDir = dataDir || mkdtempSync(join(tmpdir(), 'herald-e2e-'));
    this.ownsDir = !dataDir;
    this.port = 0;
    this.log = '';
  }

  get url() { return `http://127.0.0.1:${this.port}`; }
  get ws() { return `ws://127.0.0.1:${this.port}/connection/websocket`; }

  async start() {
    const listen = `127.0.0.1:${this.port}`;
    this.proc = spawn(binary, ['serve', '--listen', listen, '--data-dir', this.dataDir, ...this.args],
                      { stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve({ code, signal })));
    const ready = new Promise((resolve, reject) => {
      const onData = (chunk) => {
        this.log += chunk.toString();
        const m = this.log.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
        if (m) {
          this.port = Number(m[1]);
          resolve();
        }
      };
      this.proc.stderr.on('data', onData);
      this.proc.stdout.on('data', onData);
      this.exited.then(({ code, signal }) =>
        reject(new Error(`herald exited (${code ?? signal}) before listening:\n${this.log}`)));
    });
    await ready;
    return this;
  }

  /// SIGTERM; resolves with the exit status.
  async stop() {
    if (!this.proc || this.proc.exitCode !== null) return this.exited;
    this.proc.kill('SIGTERM');
    return this.exited;
  }

  async kill9() {
    this.proc.kill('SIGKILL');
    return this.exited;
  }

  async restart() {
    await this.start();
    return this;
  }

  /// Stops a running node with SIGTERM, removes the data directory it made,
  /// and fails when the node did not exit with status 0 or its log holds a
  /// sanitizer report (the test build runs under ASan and UBSan, and this is
  /// where their findings surface).
  async cleanup() {
    let status = null;
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGTERM');
      const force = setTimeout(() => this.proc.kill('SIGKILL'), 30000);
      status = await this.exited;
      clearTimeout(force);
    }
    if (this.ownsDir) rmSync(this.dataDir, { recursive: true, force: true });
    const report = this.log.match(/^.*(AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:).*$/m);
    if (report) {
      const at = this.log.indexOf(report[0]);
      throw new Error(`sanitizer report in herald's log:\n${this.log.slice(at, at + 4000)}`);
    }
    if (status && status.code !== 0)
      throw new Error(`herald exited with ${status.code ?? status.signal} on SIGTERM:\n${this.log.slice(-2000)}`);
  }

  async fetch(path, init) {
    return fetch(this.url + path, init);
  }

  async json(path, init) {
    const res = await this.fetch(path, init);
    return { status: res.status, body: await res.json() };
  }
}

/// Resolves when `predicate()` holds, polling every 10 ms, or rejects after
/// `ms` with `what` in the message.
export async function until(predicate, what, ms = 10000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await predicate()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}
