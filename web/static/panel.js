/* Centrala agent panel: live presence, status menu, notification drawer (Socket.IO /agent). */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("panel-config").textContent);
  var T = cfg.texts;
  var myStatus = cfg.status;
  var $ = function (id) { return document.getElementById(id); };

  // The server's times are UTC; SQLite hands some back without the "+00:00", and a bare
  // ISO date-time would be read as the browser's local time.
  function utc(iso) {
    return new Date(/(Z|[+-]\d\d:?\d\d)$/.test(iso) ? iso : iso + "Z");
  }

  function fmt(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_, k) { return values[k] == null ? "" : values[k]; });
  }

  /* ---------- menus (click, Escape, outside click) ---------- */
  function toggle(button, panel, open) {
    var show = open === undefined ? panel.hidden : open;
    panel.hidden = !show;
    button.setAttribute("aria-expanded", show ? "true" : "false");
    if (show) {
      var first = panel.querySelector("a, button");
      if (first && panel.id === "user-menu") first.focus();
    }
  }
  var menuBtn = $("user-menu-toggle"), menu = $("user-menu");
  var drawerBtn = $("drawer-toggle"), drawer = $("drawer");
  // one pop-up at a time: opening the menu closes the drawer and the other way round
  menuBtn.addEventListener("click", function (e) {
    e.stopPropagation(); toggle(drawerBtn, drawer, false); toggle(menuBtn, menu);
  });
  drawerBtn.addEventListener("click", function (e) {
    e.stopPropagation(); toggle(menuBtn, menu, false); toggle(drawerBtn, drawer);
  });
  $("drawer-close").addEventListener("click", function () { toggle(drawerBtn, drawer, false); drawerBtn.focus(); });
  document.addEventListener("click", function (e) {
    if (!menu.hidden && !menu.contains(e.target)) toggle(menuBtn, menu, false);
  });
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    if (!menu.hidden) { toggle(menuBtn, menu, false); menuBtn.focus(); }
    else if (!drawer.hidden) { toggle(drawerBtn, drawer, false); drawerBtn.focus(); }
  });
  menu.addEventListener("keydown", function (e) {
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
    var items = Array.prototype.slice.call(menu.querySelectorAll("a, button"));
    var i = items.indexOf(document.activeElement);
    var next = items[(i + (e.key === "ArrowDown" ? 1 : items.length - 1)) % items.length];
    if (next) { next.focus(); e.preventDefault(); }
  });

  /* ---------- status ---------- */
  function showMyStatus(status) {
    myStatus = status;
    document.querySelectorAll(".status-option").forEach(function (b) {
      b.setAttribute("aria-checked", b.dataset.status === status ? "true" : "false");
    });
    $("my-status-dot").className = "status-dot status-" + status;
    $("my-status-text").textContent = T[status];
    var dot = $("dash-status-dot"), label = $("dash-status");
    if (dot) dot.className = "status-dot status-" + status;
    if (label) label.textContent = T[status];
    document.body.dataset.status = status;
  }
  document.body.dataset.status = myStatus;

  /* ---------- sound and desktop notifications (only while Online) ---------- */
  var audio = {};
  function ring() {
    var src = cfg.sounds[cfg.ringtone] || cfg.sounds.long;
    audio[src] = audio[src] || new Audio(src);
    try { audio[src].currentTime = 0; var p = audio[src].play(); if (p && p.catch) p.catch(function () {}); } catch (e) { /* autoplay blocked */ }
  }
  function desktopNotify(item) {
    if (!("Notification" in window)) return;
    if (Notification.permission === "granted") {
      try { new Notification("Centrala", { body: item.title, tag: "centrala-" + item.id }); } catch (e) { /* ignore */ }
    }
  }
  function askPermission() {
    if ("Notification" in window && Notification.permission === "default") {
      try { Notification.requestPermission(); } catch (e) { /* ignore */ }
    }
  }
  document.querySelectorAll("[data-play]").forEach(function (b) {
    b.addEventListener("click", function () {
      var src = cfg.sounds[b.dataset.play];
      new Audio(src).play().catch(function () {});
    });
  });

  /* ---------- badges and drawer ---------- */
  function setBadge(id, n) {
    var el = $(id);
    if (!el) return;
    el.textContent = n > 99 ? "99+" : String(n);
    el.hidden = !n;
  }
  function showBadges(b) { setBadge("badge-incoming", b.incoming); setBadge("badge-tasks", b.tasks); }
  function updateEmpty() { $("drawer-empty").hidden = $("drawer-list").children.length > 0; }
  function renderItem(item) {
    var node = document.getElementById("tpl-item").content.firstElementChild.cloneNode(true);
    node.dataset.id = item.id;
    node.querySelector(".channel-icon").textContent = (T.channels[item.channel] || item.channel);
    node.querySelector(".item-title").textContent = item.title;
    var t = node.querySelector("time");
    t.dateTime = item.created_at;
    // the page's language (PL/EN choice), not the browser's: no "04:11 PM" in a Polish panel
    t.textContent = utc(item.created_at).toLocaleTimeString(document.documentElement.lang || [],
                                                                  { hour: "2-digit", minute: "2-digit" });
    node.querySelector("[data-action=answer]").addEventListener("click", function () {
      socket.emit("notification:answer", { id: item.id }, function (r) {
        if (r && r.ok && r.link) window.location.href = r.link;
      });
    });
    node.querySelector("[data-action=ignore]").addEventListener("click", function () {
      socket.emit("notification:ignore", { id: item.id });
    });
    return node;
  }
  function addItem(item, prepend) {
    var list = $("drawer-list");
    if (list.querySelector('[data-id="' + item.id + '"]')) return;
    var node = renderItem(item);
    if (prepend) list.insertBefore(node, list.firstChild); else list.appendChild(node);
    updateEmpty();
  }
  function toast(text) {
    var el = document.createElement("div");
    el.className = "toast";
    el.setAttribute("role", "status");
    el.textContent = text;
    $("toasts").appendChild(el);
    setTimeout(function () { el.remove(); }, 6000);
  }

  /* ---------- presence list on the dashboard ---------- */
  function showPresence(p) {
    var row = document.querySelector('#people [data-user="' + p.id + '"]');
    if (row) {
      var pill = row.querySelector("[data-role=status]");
      pill.className = "pill pill-" + p.status;
      pill.textContent = T[p.status];
    }
    var people = document.querySelectorAll("#people [data-role=status]");
    if (people.length) {
      ["online", "break", "offline"].forEach(function (s) {
        var n = 0;
        people.forEach(function (el) { if (el.classList.contains("pill-" + s)) n++; });
        var c = $("count-" + s);
        if (c) c.textContent = n;
      });
    }
  }

  /* ---------- socket ---------- */
  var socket = io("/agent", { transports: ["websocket", "polling"], reconnectionDelayMax: 5000 });
  window.centralaSocket = socket;
  window.centralaToast = toast;
  window.centralaDesktopNotify = desktopNotify;
  socket.on("connect", function () { $("conn-state").hidden = true; document.body.dataset.connected = "1"; });
  socket.on("disconnect", function () { $("conn-state").hidden = false; document.body.dataset.connected = "0"; });
  socket.on("connect_error", function () { $("conn-state").hidden = false; });
  socket.on("snapshot", function (snap) {   // on every (re)connect: resync everything
    showMyStatus(snap.me.status);
    snap.presence.forEach(showPresence);
    showBadges(snap.badges);
    $("drawer-list").innerHTML = "";
    snap.notifications.forEach(function (n) { addItem(n, false); });
    updateEmpty();
  });
  socket.on("presence", function (p) {
    showPresence(p);
    if (p.id === cfg.me) showMyStatus(p.status);
  });
  socket.on("badges", showBadges);
  socket.on("notification", function (item) {
    addItem(item, true);
    if (myStatus === "online") {
      ring();
      desktopNotify(item);
      toast(fmt(T.new_item, { title: item.title }));
    }
  });
  socket.on("notification_resolved", function (r) {
    var node = document.querySelector('#drawer-list [data-id="' + r.id + '"]');
    if (node) node.remove();
    updateEmpty();
  });

  $("status-form").addEventListener("submit", function (e) {
    if (!socket.connected) return;   // fall back to the plain form post
    e.preventDefault();
    var status = e.submitter ? e.submitter.value : null;
    if (!status) return;
    if (status === "online") askPermission();
    socket.emit("status:set", { status: status }, function (r) {
      if (r && r.ok) { showMyStatus(r.status); toggle(menuBtn, menu, false); }
    });
  });
})();

/* Forms that ask first (e.g. deactivating a user): the question comes from data-confirm,
   never from inline script, so names with quotes cannot break out. */
document.addEventListener("submit", function (e) {
  var form = e.target;
  if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) e.preventDefault();
}, true);

/* My profile: reveal the SIP password on request; registration state follows the softphone. */
(function () {
  var btn = document.getElementById("sip-reveal");
  var pw = document.getElementById("sip-password");
  if (btn && pw) {
    btn.addEventListener("click", function () {
      var shown = pw.textContent === pw.dataset.secret;
      pw.textContent = shown ? "••••••••••••" : pw.dataset.secret;
      btn.textContent = shown ? btn.dataset.show : btn.dataset.hide;
    });
  }
  var state = document.getElementById("sip-state");
  if (state && window.centralaSocket) {
    window.centralaSocket.on("sip", function (s) {
      state.className = "pill " + (s.registered ? "pill-online" : "pill-offline");
      state.textContent = s.registered ? state.dataset.on : state.dataset.off;
    });
  }
})();

/* Calls (VOI-8, COM-2): the dial pad places a call; the call card follows the agent's call. */
(function () {
  var socket = window.centralaSocket;
  var cfgEl = document.getElementById("panel-config");
  if (!socket || !cfgEl) return;
  var T = JSON.parse(cfgEl.textContent).texts;
  var toggleBtn = document.getElementById("dial-toggle"), pad = document.getElementById("dialpad");
  var input = document.getElementById("dial-number"), err = document.getElementById("dial-error");
  var card = document.getElementById("call-card"), stateEl = document.getElementById("call-state");
  var who = document.getElementById("call-who"), timerEl = document.getElementById("call-timer");
  var timer = null, since = 0, current = null;
  var csrf = document.querySelector('meta[name="csrf-token"]').content;

  function openPad(open) {
    pad.hidden = !open;
    toggleBtn.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) input.focus();
  }
  toggleBtn.addEventListener("click", function (e) { e.stopPropagation(); openPad(pad.hidden); });
  pad.addEventListener("click", function (e) { e.stopPropagation(); });
  document.addEventListener("click", function () { if (!pad.hidden) openPad(false); });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape" && !pad.hidden) { openPad(false); toggleBtn.focus(); } });
  pad.querySelectorAll("[data-key]").forEach(function (b) {
    b.addEventListener("click", function () { input.value += b.dataset.key; input.focus(); });
  });
  pad.addEventListener("submit", function (e) {
    e.preventDefault();
    err.hidden = true;
    placeCall(input.value, function (text) { err.textContent = text; err.hidden = false; });
  });

  function tick() {
    var s = Math.floor((Date.now() - since) / 1000);
    timerEl.textContent = Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }
  var actions = document.getElementById("call-actions"), errEl = document.getElementById("call-error");
  var xfer = document.getElementById("call-transfer"), xferAgent = document.getElementById("transfer-agent");
  var xferNumber = document.getElementById("transfer-number"), xferAttended = document.getElementById("transfer-attended");
  var state = null;

  function setButtons() {
    actions.querySelectorAll("[data-when]").forEach(function (b) {
      b.hidden = b.dataset.when.split(" ").indexOf(state) < 0;
    });
    if (state !== "talking") openTransfer(false);
  }
  function fail(text) { errEl.textContent = text; errEl.hidden = !text; }
  function show(ev) {
    if (ev.state !== "placing" && current && ev.communication_id !== current) return;
    current = ev.communication_id;
    card.hidden = false;
    fail("");
    var st = ev.state === "resumed" ? "talking" : ev.state;
    if (ev.failed) fail(T.call_transfer_failed);
    state = st;
    card.className = "call-card " + st;
    var text = T["call_" + st] || st;
    stateEl.textContent = text.replace("{name}", ev.label || "");
    if (ev.caller) who.textContent = ev.caller;
    if (st === "ringing" || st === "placing" || (ev.state === "talking")) {
      if (!timer || ev.state === "talking") { since = Date.now(); clearInterval(timer); timer = setInterval(tick, 1000); tick(); }
    }
    if (st === "ended" || st === "transferred") {
      clearInterval(timer); timer = null;
      setTimeout(function hide() {
        if (current !== ev.communication_id) return;
        if (!noteForm.hidden) return setTimeout(hide, 4000);  // writing a note: keep the card
        var typing = document.activeElement && document.activeElement.tagName === "INPUT";
        if (cp && cp.isOpen() && typing && cp.root.contains(document.activeElement)) return setTimeout(hide, 4000);  // same in the contact panel
        card.hidden = true; current = null; state = null;
        if (cp) cp.reset();
      }, 4000);
    }
    setButtons();
  }
  function act(action, body) {
    fail("");
    return fetch("/calls/" + current + "/" + action, {
      method: "POST", headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body || {}) })
      .then(function (r) { return r.json(); })
      .then(function (r) { if (!r.ok) fail(r.error); return r; });
  }
  function openTransfer(open) {
    xfer.hidden = !open;
    var btn = actions.querySelector('[data-call="open-transfer"]');
    btn.setAttribute("aria-expanded", open ? "true" : "false");
    if (!open) return;
    fetch("/calls/transfer-targets").then(function (r) { return r.json(); }).then(function (r) {
      while (xferAgent.options.length > 1) xferAgent.remove(1);
      r.items.forEach(function (p) {
        var o = document.createElement("option");
        o.value = p.id;
        o.textContent = p.name + " · " + (T.agent_states[p.status] || p.status);
        xferAgent.appendChild(o);
      });
      xferAgent.focus();
    });
  }
  card.addEventListener("click", function (e) {
    var b = e.target.closest("[data-call]");
    if (!b || !current) return;
    var a = b.dataset.call;
    if (a === "open-transfer") return openTransfer(xfer.hidden);
    if (a === "open-note") return openNote(noteForm.hidden);
    if (a === "open-contact") return openContactPanel(!cp.isOpen());
    if (a === "close-transfer") return openTransfer(false);
    act(a);
  });
  var noteForm = document.getElementById("call-note"), noteText = document.getElementById("call-note-text");
  var noteSaved = document.getElementById("call-note-saved"), noteFor = null;
  function openNote(open) {
    noteForm.hidden = !open;
    actions.querySelector('[data-call="open-note"]').setAttribute("aria-expanded", open ? "true" : "false");
    if (open) {
      if (noteFor !== current) { noteText.value = ""; noteSaved.textContent = ""; noteFor = current; }
      noteText.focus();
    }
  }
  function saveNote() {
    var id = noteFor;
    fetch("/history/" + id + "/note", { method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify({ note: noteText.value }) })
      .then(function (r) { return r.json(); })
      .then(function (r) { if (r.ok) noteSaved.textContent = T.note_saved; else fail(r.error); });
  }
  noteForm.addEventListener("submit", function (e) { e.preventDefault(); saveNote(); });
  noteText.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); saveNote(); }
  });
  xfer.addEventListener("submit", function (e) {
    e.preventDefault();
    var body = { attended: xferAttended.checked };
    if (xferAgent.value) body.user_id = xferAgent.value; else body.number = xferNumber.value;
    act("transfer", body).then(function (r) { if (r.ok) openTransfer(false); });
  });
  xfer.addEventListener("keydown", function (e) { if (e.key === "Escape") { openTransfer(false); actions.querySelector('[data-call="open-transfer"]').focus(); } });
  socket.on("call", function (ev) {
    if ((ev.state === "ended") && ev.communication_id !== current) return;
    if (ev.state === "ringing" && ev.communication_id !== current) {
      // the phone rings: say who calls (the contact's name when the number is known)
      var from = ev.contact ? ev.contact.name + " (" + ev.caller + ")" : (ev.caller || T.unknown_number);
      var text = T.incoming_from.replace("{caller}", from);
      window.centralaToast(text);
      window.centralaDesktopNotify({ id: "call-" + ev.communication_id, title: text });
    }
    show(ev);
    if (ev.state === "ringing" || ev.state === "placing") showContact(ev);
  });
  // the contact side panel beside the card (COM-4): opens with the call, matched by the number
  var cp = window.CentralaContactPanel && window.CentralaContactPanel.get("call-contact-panel");
  var cpBtn = actions.querySelector('[data-call="open-contact"]'), caller = "";
  function openContactPanel(open) {
    if (!cp) return;
    if (open) cp.open({ phone: caller }); else cp.close(true);
    cpBtn.setAttribute("aria-expanded", open ? "true" : "false");
  }
  if (cp) cp.root.addEventListener("contactpanel:closed", function () { cpBtn.setAttribute("aria-expanded", "false"); });
  else cpBtn.hidden = true;
  var contactLink = document.getElementById("call-contact");
  function showContact(ev) {
    // the caller's contact: open it, or add the number as a new one (VOI-2, COM-4)
    if (ev.contact) {
      who.textContent = ev.contact.name + " · " + ev.caller;
      contactLink.href = "/contacts/" + ev.contact.id;
      contactLink.textContent = T.open_contact;
    } else {
      contactLink.href = "/contacts/new?phone=" + encodeURIComponent(ev.caller || "");
      contactLink.textContent = T.add_contact;
    }
    contactLink.hidden = !ev.contact && !ev.caller;
    caller = ev.caller || "";
    if (caller) openContactPanel(true);
  }
  function placeCall(number, onError) {
    fetch("/calls", { method: "POST", headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
                      body: JSON.stringify({ number: number }) })
      .then(function (r) { return r.json(); })
      .then(function (r) {
        if (!r.ok) { onError(r.error); return; }
        openPad(false);
        var ev = { state: "placing", communication_id: r.communication_id, caller: r.number, contact: r.contact };
        show(ev);
        showContact(ev);
      });
  }
  // click-to-call from anywhere in the panel: any element with data-dial (e.g. a contact's phones)
  document.addEventListener("click", function (e) {
    var b = e.target.closest("[data-dial]");
    if (!b) return;
    e.preventDefault();
    placeCall(b.dataset.dial, function (text) { window.centralaToast(text); });
  });
})();
