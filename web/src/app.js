// The herald chat demo: rooms and the latest messages come from the REST
// queries (the read side); new messages arrive live over WebSocket with the
// centrifuge SDK, which also recovers what was missed after a reconnect.
// A display name is a profile event on users:<name>; "@name" in a message
// mentions that user, and the mentions processor delivers each mention to
// inbox:<name>, which the Mentions panel follows (history, then live).
(function () {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const state = {
    room: null,
    sub: null,
    name: localStorage.getItem('herald-name') || 'guest' + Math.floor(Math.random() * 1000),
    seen: new Set(), // offsets shown in the current room
    inbox: null,
    inboxSeen: new Set(),
  };
  $('name').value = state.name;
  $('display-name').value = localStorage.getItem('herald-display-name') || '';

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

  // -- mentions ---------------------------------------------------------------

  function showMention(offset, m) {
    if (state.inboxSeen.has(offset)) return; // history and the live feed overlap
    state.inboxSeen.add(offset);
    const li = document.createElement('li');
    li.dataset.offset = offset;
    li.innerHTML = '<span class="who"></span><span class="where"></span><span class="text"></span>';
    li.querySelector('.who').textContent = m.author_name || m.author || 'someone';
    li.querySelector('.where').textContent = 'in #' + m.room + ':';
    li.querySelector('.text').textContent = m.text || '';
    const list = $('inbox');
    let before = null; // newest first
    for (const other of list.children)
      if (Number(other.dataset.offset) < offset) { before = other; break; }
    list.insertBefore(li, before);
  }

  // Follows inbox:<name>: the latest mentions from history, then live ones.
  function openInbox() {
    if (state.inbox) { state.inbox.unsubscribe(); client.removeSubscription(state.inbox); }
    state.inboxSeen = new Set();
    $('inbox').innerHTML = '';
    const sub = client.newSubscription('inbox:' + state.name);
    sub.on('publication', (ctx) => showMention(ctx.offset, ctx.data || {}));
    sub.on('subscribed', async () => {
      try {
        const page = await sub.history({ limit: 20, reverse: true });
        for (const p of page.publications) showMention(p.offset, p.data || {});
      } catch (err) {
        setStatus('mentions: ' + (err.message || err.code));
      }
    });
    sub.subscribe();
    state.inbox = sub;
  }

  /// "@bob and @carol" -> ['bob', 'carol'], each name once.
  function mentionsIn(text) {
    const names = (text.match(/@[A-Za-z0-9_-]{1,40}/g) || []).map((m) => m.slice(1));
    return [...new Set(names)];
  }

  async function publishProfile() {
    const displayName = $('display-name').value.trim();
    localStorage.setItem('herald-display-name', displayName);
    if (!displayName) return;
    try {
      await client.publish('users:' + state.name, { type: 'profile', display_name: displayName });
    } catch (err) {
      setStatus('profile failed: ' + (err.message || err.code));
    }
  }

  $('profile').onsubmit = async (e) => {
    e.preventDefault();
    await publishProfile();
    // What the journal has acknowledged (a test waits for it).
    $('display-name').dataset.saved = $('display-name').value.trim();
  };

  $('join').onsubmit = (e) => {
    e.preventDefault();
    const name = $('name').value.trim() || state.name;
    if (name === state.name && state.inbox) return;
    state.name = name;
    localStorage.setItem('herald-name', state.name);
    openInbox();
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
      const message = { type: 'message', author: state.name, text };
      const mentions = mentionsIn(text);
      if (mentions.length) message.mentions = mentions;
      await state.sub.publish(message);
    } catch (err) {
      setStatus('send failed: ' + (err.message || err.code));
    }
  };

  openInbox();
  loadRooms().then(() => openRoom('lobby')).catch((err) => setStatus(err.message));
  setInterval(() => loadRooms().catch(() => {}), 5000);
})();
