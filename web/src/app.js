// The herald chat demo: rooms and the latest messages come from the REST
// queries (the read side); new messages arrive live over WebSocket with the
// centrifuge SDK, which also recovers what was missed after a reconnect.
(function () {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const state = {
    room: null,
    sub: null,
    name: localStorage.getItem('herald-name') || 'guest' + Math.floor(Math.random() * 1000),
    seen: new Set(), // offsets shown in the current room
  };
  $('name').value = state.name;

  const wsUrl = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host +
    '/connection/websocket';
  const client = new Centrifuge(wsUrl);
  client.on('connecting', (ctx) => setStatus('connecting… (' + ctx.reason + ')'));
  client.on('connected', () => setStatus('connected'));
  client.on('disconnected', (ctx) => setStatus('disconnected: ' + ctx.reason));
  client.connect();

  function setStatus(text) { $('status').textContent = text; }

  async function query(name, params) {
    const qs = new URLSearchParams(params || {}).toString();
    const res = await fetch('/api/queries/' + name + (qs ? '?' + qs : ''));
    if (!res.ok) throw new Error('query ' + name + ' failed: ' + res.status);
    return res.json();
  }

  async function loadRooms() {
    const { rows } = await query('rooms');
    const list = $('rooms');
    list.innerHTML = '';
    const names = rows.map((r) => r.room);
    if (!names.includes('lobby')) names.push('lobby');
    for (const room of names) {
      const row = rows.find((r) => r.room === room);
      const li = document.createElement('li');
      li.dataset.room = room;
      li.innerHTML = '<span class="name"></span><span class="count"></span>';
      li.querySelector('.name').textContent = '#' + room;
      li.querySelector('.count').textContent = row ? row.messages : '';
      li.onclick = () => openRoom(room);
      if (room === state.room) li.classList.add('current');
      list.appendChild(li);
    }
  }

  function show(msg) {
    if (state.seen.has(msg.offset)) return; // the REST page and the live feed overlap
    state.seen.add(msg.offset);
    const li = document.createElement('li');
    li.dataset.offset = msg.offset;
    li.innerHTML = '<span class="author"></span><span class="text"></span><span class="time"></span>';
    li.querySelector('.author').textContent = msg.author || 'anonymous';
    li.querySelector('.text').textContent = msg.text || '';
    li.querySelector('.time').textContent = msg.time ? new Date(msg.time).toLocaleTimeString() : '';
    const list = $('messages');
    // Keep offset order even if a late page arrives.
    let before = null;
    for (const other of list.children)
      if (Number(other.dataset.offset) > msg.offset) { before = other; break; }
    list.insertBefore(li, before);
    list.scrollTop = list.scrollHeight;
  }

  async function openRoom(room) {
    if (state.sub) { state.sub.unsubscribe(); client.removeSubscription(state.sub); }
    state.room = room;
    state.seen = new Set();
    $('messages').innerHTML = '';
    $('title').textContent = '#' + room;
    $('text').disabled = false;
    $('send-button').disabled = false;
    for (const li of $('rooms').children) li.classList.toggle('current', li.dataset.room === room);
    // Initial load from the read model, then live from where it stands.
    const { rows, position } = await query('messages', { room, limit: 50 });
    rows.reverse().forEach(show);
    const top = rows.length ? rows[rows.length - 1].offset : 0;
    const sub = client.newSubscription('chat:' + room, { since: { offset: top, epoch: '' } });
    sub.on('publication', (ctx) => {
      if (ctx.tags && ctx.tags.type && ctx.tags.type !== 'message') return;
      const d = ctx.data || {};
      show({ offset: ctx.offset, author: d.author, text: d.text, time: Date.now() });
    });
    sub.on('subscribed', (ctx) => { if (!ctx.recovered && ctx.wasRecovering) reload(); });
    sub.subscribe();
    state.sub = sub;
    void position;
  }

  async function reload() {
    if (state.room) await openRoom(state.room);
  }

  $('join').onsubmit = (e) => {
    e.preventDefault();
    state.name = $('name').value.trim() || state.name;
    localStorage.setItem('herald-name', state.name);
  };
  $('name').onchange = () => $('join').onsubmit(new Event('submit'));

  $('new-room').onsubmit = async (e) => {
    e.preventDefault();
    const room = $('room-name').value.trim();
    if (!room) return;
    $('room-name').value = '';
    await openRoom(room);
    await loadRooms();
  };

  $('send').onsubmit = async (e) => {
    e.preventDefault();
    const text = $('text').value;
    if (!text || !state.sub) return;
    $('text').value = '';
    try {
      await state.sub.publish({ type: 'message', author: state.name, text });
    } catch (err) {
      setStatus('send failed: ' + (err.message || err.code));
    }
  };

  loadRooms().then(() => openRoom('lobby')).catch((err) => setStatus(err.message));
  setInterval(() => loadRooms().catch(() => {}), 5000);
})();
