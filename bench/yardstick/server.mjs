// The yardstick for bench/ws_load: a minimal broadcast server with no
// persistence, as most teams would write it with Node's `ws`: a client sends
// {"sub":C} to join channel C and {"pub":C,"data":...} to publish; the server
// relays {"channel":C,"data":...} to the channel's other connections, one
// send() per message per connection.
import { WebSocketServer } from 'ws';

const port = Number(process.argv[2] || 9000);
const channels = new Map();
const wss = new WebSocketServer({ port, perMessageDeflate: false });
wss.on('connection', (ws) => {
  const mine = new Set();
  ws.on('message', (raw) => {
    let msg;
    try { msg = JSON.parse(raw); } catch { return; }
    if (msg.sub) {
      if (!channels.has(msg.sub)) channels.set(msg.sub, new Set());
      channels.get(msg.sub).add(ws);
      mine.add(msg.sub);
    } else if (msg.pub) {
      const out = JSON.stringify({ channel: msg.pub, data: msg.data });
      for (const peer of channels.get(msg.pub) || [])
        if (peer !== ws && peer.readyState === 1) peer.send(out);
    }
  });
  ws.on('close', () => { for (const c of mine) channels.get(c)?.delete(ws); });
});
wss.on('listening', () => console.log(`yardstick listening on ${port}`));
