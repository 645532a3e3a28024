// A raw WebSocket client speaking the JSON protocol by hand, to send what
// the SDK never would and to see every frame and the close code.
import WebSocket from 'ws';

export class Raw {
  constructor(url, options = {}) {
    this.frames = [];
    this.pending = []; // messages of a frame `until` has not looked at yet
    this.waiters = [];
    this.ws = new WebSocket(url, options);
    this.closed = new Promise((resolve) => this.ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    this.ws.on('message', (data, isBinary) => {
      this.frames.push({ text: data.toString(), isBinary });
      this.waiters.splice(0).forEach((w) => w());
    });
  }

  open() {
    return new Promise((resolve, reject) => {
      this.ws.once('open', resolve);
      this.ws.once('error', reject);
    });
  }

  send(text) { this.ws.send(text); }

  /// The next frame not read yet (a frame may hold several messages).
  async frame(ms = 5000) {
    const deadline = Date.now() + ms;
    while (this.frames.length === 0) {
      if (Date.now() > deadline) throw new Error('no frame');
      await new Promise((resolve) => {
        const t = setTimeout(resolve, deadline - Date.now());
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
    return this.frames.shift().text;
  }

  /// The messages of the next frame, parsed.
  async messages(ms) {
    return (await this.frame(ms)).split('\n').filter((l) => l).map((l) => JSON.parse(l));
  }

  /// Messages until one satisfies `pred` (returns it). The messages before
  /// it are skipped; those after it in the same frame are kept for the next
  /// call, since the server coalesces several messages into one frame.
  async until(pred, ms = 5000) {
    const deadline = Date.now() + ms;
    for (;;) {
      while (this.pending.length) {
        const m = this.pending.shift();
        if (pred(m)) return m;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('expected message did not arrive');
      this.pending = await this.messages(left);
    }
  }

  close() { this.ws.terminate(); }
}
