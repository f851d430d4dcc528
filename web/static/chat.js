/* Website chat in the panel: the agent's chat view (live over /agent), the embed snippet's
   copy button, the trigger counters.  Visitors' words only ever go through textContent. */
(function () {
  "use strict";
  document.querySelectorAll("[data-copy]").forEach(function (b) {
    b.addEventListener("click", function () {
      var text = document.querySelector(b.dataset.copy).textContent;
      var done = function () { var t = b.textContent; b.textContent = b.dataset.done; setTimeout(function () { b.textContent = t; }, 2000); };
      if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, done);
      else {
        var ta = document.createElement("textarea"); ta.value = text; document.body.appendChild(ta); ta.select();
        try { document.execCommand("copy"); } catch (e) { /* ignore */ }
        ta.remove(); done();
      }
    });
  });
  document.querySelectorAll("[data-counter]").forEach(function (ta) {
    var out = document.getElementById(ta.dataset.counter);
    ta.addEventListener("input", function () { out.textContent = ta.value.length; });
  });

  var dataEl = document.getElementById("chat-data");
  var socket = window.centralaSocket;
  if (!socket) return;
  var openId = dataEl ? JSON.parse(dataEl.textContent).id : null;

  /* Anywhere in the panel: a visitor's message in one of my chats that is not on screen. */
  var cfgEl = document.getElementById("panel-config");
  var PT = cfgEl ? JSON.parse(cfgEl.textContent).texts : {};
  socket.on("chat:message", function (m) {
    if (m.sender !== "visitor" || m.chat_id === openId) return;
    var tab = document.querySelector('.tabs a[href="/chat"]');
    if (tab) tab.classList.add("has-unread");
    var box = document.getElementById("toasts");
    if (!box) return;
    var t = document.createElement("a");
    t.className = "toast toast-link";
    t.href = "/chat/" + m.chat_id;
    t.setAttribute("role", "status");
    var who = m.who || "";
    if (who.charAt(0) === "#") who = (PT.visitor || "") + " " + who;
    t.textContent = (PT.chat_message || "{who}").replace("{who}", who) + ": " +
      (m.file ? m.file.name : m.body).slice(0, 80);
    box.appendChild(t);
    setTimeout(function () { t.remove(); }, 8000);
  });
  /* A transfer I started ended (accepted, or the chat stays with me) while I look elsewhere. */
  socket.on("chat:transfer", function (t) {
    if (t.chat_id === openId || !window.centralaToast) return;
    var text = t.state === "done" ? PT.call_transferred : t.state === "withdrawn" ? (PT.chat_transfer || {})[t.reason] : null;
    if (text) window.centralaToast(text.replace("{name}", t.to || ""));
  });
  if (!dataEl) return;
  var D = JSON.parse(dataEl.textContent), T = D.texts;
  var $ = function (id) { return document.getElementById(id); };
  var log = $("chat-log"), input = $("chat-input"), seen = {};
  var lang = document.documentElement.lang || [];

  function time(iso) {
    var d = new Date(/(Z|[+-]\d\d:?\d\d)$/.test(iso) ? iso : iso + "Z");
    return d.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" });
  }
  function add(m) {
    if (seen[m.id]) return;
    seen[m.id] = 1;
    var row = document.createElement("div");
    row.className = "chat-msg chat-" + m.sender;
    var meta = document.createElement("p");
    meta.className = "chat-meta";
    meta.textContent = m.sender === "system" ? time(m.at) :
      (m.sender === "agent" ? (m.agent || "") : T.visitor) + " · " + time(m.at);
    var body = document.createElement("p");
    body.className = "chat-body";
    if (m.sender === "system") {
      body.textContent = m.body;
      if (m.note) {   /* the note for the colleague: agents only, never sent to the visitor */
        var note = document.createElement("span");
        note.className = "chat-note";
        note.textContent = T.note + ": " + m.note;
        body.appendChild(note);
      }
    } else if (m.file) {
      var a = document.createElement("a");
      a.href = m.file.url; a.target = "_blank"; a.rel = "noopener noreferrer";
      a.className = "chat-file";
      if (m.file.image) { var img = document.createElement("img"); img.src = m.file.url; img.alt = m.file.name; a.appendChild(img); }
      else a.textContent = "PDF · " + m.file.name;
      body.appendChild(a);
    } else body.textContent = m.body;
    row.appendChild(meta); row.appendChild(body);
    log.appendChild(row);
    log.scrollTop = log.scrollHeight;
  }
  function addPage(p) {
    var li = document.createElement("li");
    var a = document.createElement("a");
    a.href = /^https?:\/\//.test(p.url) ? p.url : "#";
    a.target = "_blank"; a.rel = "noopener noreferrer nofollow";
    a.textContent = p.title || p.url;
    var small = document.createElement("span");
    small.className = "muted small";
    small.textContent = " " + time(p.at) + " · " + p.url;
    li.appendChild(a); li.appendChild(small);
    $("chat-pages").appendChild(li);
    $("chat-pages-empty").hidden = true;
  }
  function error(text) { var e = $("chat-error"); e.textContent = text; e.hidden = !text; }
  D.messages.forEach(add);
  D.pages.forEach(addPage);

  function becomeMine() {
    D.mine = true;
    var box = $("chat-accept-box"); if (box) box.remove();
    $("chat-composer").hidden = false;
    input.focus();
  }
  function accept() {
    socket.emit("chat:accept", { chat_id: D.id }, function (r) {
      if (r && r.ok) { becomeMine(); location.replace(location.pathname); }
      else if (r && r.error === "unavailable") error(T.unavailable);   /* on Break/Offline, or no chat skill */
      else error($("chat-handed") ? T.withdrawn : T.taken);
    });
  }
  socket.on("chat:offer_withdrawn", function (o) {   /* a colleague's transfer offer ran out */
    if (o.chat_id !== D.id || D.mine) return;
    var box = $("chat-accept-box"); if (box) box.remove();
    error(T.withdrawn);
  });
  var acceptBtn = $("chat-accept");
  if (acceptBtn) acceptBtn.addEventListener("click", accept);
  if (D.accept && !D.mine && D.offered) accept();

  socket.on("chat:message", function (m) { if (m.chat_id === D.id) { add(m); $("chat-typing").hidden = true; } });
  socket.on("chat:page", function (p) { if (p.chat_id === D.id) addPage(p.page); });
  socket.on("chat:visitor", function (p) {
    if (p.chat_id !== D.id) return;
    var pill = $("visitor-here");
    pill.hidden = false;
    pill.className = "pill " + (p.online ? "pill-online" : "pill-offline");
    pill.textContent = p.online ? pill.dataset.on : pill.dataset.off;
  });
  var hide = null;
  socket.on("chat:typing", function (t) {
    if (t.chat_id !== D.id) return;
    $("chat-typing").hidden = !t.typing;
    clearTimeout(hide);
    if (t.typing) hide = setTimeout(function () { $("chat-typing").hidden = true; }, 6000);
  });

  var composer = $("chat-composer");
  composer.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    error("");
    stopTyping();
    socket.emit("chat:send", { chat_id: D.id, body: text }, function (r) {
      if (r && r.ok) { input.value = ""; add(r.message); } else error(T.error);
    });
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); composer.requestSubmit(); }
  });
  var sent = 0, timer = null;
  function stopTyping() {
    clearTimeout(timer);
    if (sent) { sent = 0; socket.emit("chat:typing", { chat_id: D.id, typing: false }); }
  }
  input.addEventListener("input", function () {
    var now = Date.now();
    if (now - sent > 2000) { sent = now; socket.emit("chat:typing", { chat_id: D.id, typing: true }); }
    clearTimeout(timer);
    timer = setTimeout(stopTyping, 3000);
  });
  if ($("chat-template")) $("chat-template").addEventListener("change", function (e) {
    var opt = e.target.selectedOptions[0];
    if (opt && opt.dataset.body) {
      input.value = input.value ? input.value + " " + opt.dataset.body : opt.dataset.body;
      input.focus();
    }
    e.target.value = "";
  });
  var fileInput = $("chat-file");
  if (fileInput) $("chat-attach").addEventListener("click", function () { fileInput.click(); });
  if (fileInput) fileInput.addEventListener("change", function () {
    var f = fileInput.files[0];
    fileInput.value = "";
    if (!f) return;
    error("");
    var fd = new FormData();
    fd.append("file", f);
    fetch("/chat/" + D.id + "/upload", { method: "POST", body: fd,
      headers: { "X-CSRFToken": document.querySelector('meta[name="csrf-token"]').content } })
      .then(function (r) { return r.json(); })
      .then(function (r) { if (r.ok) add(r.message); else error(r.message || T.error); })
      .catch(function () { error(T.error); });
  });
  /* ---------- transfer to a colleague (or to anyone available) ---------- */
  var xOpen = $("chat-transfer-open"), xBox = $("chat-transfer"), xForm = $("chat-transfer-form");
  var xList = $("chat-transfer-list"), xNote = $("chat-transfer-note"), xTimer = null;
  function fill(text, name) { return text.replace("{name}", name || ""); }
  function xError(text) { var e = $("chat-transfer-error"); if (e) { e.textContent = text || ""; e.hidden = !text; } }
  function errText(r) { return (r && T.errors[r.error]) || T.error; }
  function result(text) { var e = $("chat-transfer-result"); if (e) { e.textContent = text || ""; e.hidden = !text; } }
  function showPending(p) {
    if (!p || !$("chat-transfer-pending")) return;
    $("chat-transfer-waiting").textContent = fill(T.waiting, p.to);
    $("chat-transfer-pending").hidden = false;
    result("");
    if (xOpen) xOpen.disabled = true;
  }
  function hidePending() {
    if ($("chat-transfer-pending")) $("chat-transfer-pending").hidden = true;
    if (xOpen) xOpen.disabled = false;
  }
  function targetRow(a) {
    var li = document.createElement("li");
    var label = document.createElement("label");
    label.className = "radio";
    var r = document.createElement("input");
    r.type = "radio"; r.name = "transfer-target"; r.value = String(a.id); r.disabled = !a.available;
    r.id = "transfer-to-" + a.id;
    var name = document.createElement("span");
    name.className = "transfer-name";
    name.textContent = a.name;
    var pill = document.createElement("span");
    pill.className = "pill pill-" + a.status;
    pill.textContent = T[a.status] || a.status;
    label.appendChild(r); label.appendChild(name); label.appendChild(pill);
    li.appendChild(label);
    if (!a.available) li.className = "is-unavailable";
    return li;
  }
  function renderTargets(r) {
    var checked = xForm.querySelector("input[name=transfer-target]:checked");
    var keep = checked ? checked.value : null;
    while (xList.children.length > 1) xList.removeChild(xList.lastChild);
    var anyone = $("transfer-anyone");
    anyone.disabled = !r.anyone;
    $("transfer-anyone-why").textContent = r.anyone ? $("transfer-anyone-why").dataset.on : T.errors.nobody;
    r.agents.forEach(function (a) { xList.appendChild(targetRow(a)); });
    $("chat-transfer-empty").hidden = r.agents.length > 0;
    var again = keep && xForm.querySelector('input[name=transfer-target][value="' + keep + '"]');
    if (again && !again.disabled) again.checked = true;
    else if (checked) xError(keep === "anyone" ? T.errors.nobody : T.errors.not_online);
    xList.setAttribute("aria-busy", "false");
  }
  function loadTargets(focus) {
    socket.emit("chat:targets", { chat_id: D.id }, function (r) {
      if (!(r && r.ok)) { xError(errText(r)); return; }
      renderTargets(r);
      if (r.pending) { showPending(r.pending); openTransfer(false); return; }
      if (focus) {
        var first = xForm.querySelector("input[name=transfer-target]:checked") ||
          xForm.querySelector("input[name=transfer-target]:not(:disabled)") || $("chat-transfer-close");
        first.focus();
      }
    });
  }
  function openTransfer(open) {
    if (!xBox) return;
    xBox.hidden = !open;
    xOpen.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) { xError(""); result(""); loadTargets(true); }
  }
  if (xBox) {
    $("transfer-anyone-why").dataset.on = $("transfer-anyone-why").textContent;
    xOpen.addEventListener("click", function () { openTransfer(xBox.hidden); });
    $("chat-transfer-close").addEventListener("click", function () { openTransfer(false); xOpen.focus(); });
    xBox.addEventListener("keydown", function (e) {
      if (e.key === "Escape") { e.preventDefault(); openTransfer(false); xOpen.focus(); }
    });
    xList.addEventListener("change", function () { xError(""); });
    xForm.addEventListener("submit", function (e) {
      e.preventDefault();
      var sel = xForm.querySelector("input[name=transfer-target]:checked");
      if (!sel) { xError(T.choose); return; }
      var payload = { chat_id: D.id, note: xNote.value };
      if (sel.value === "anyone") payload.anyone = true; else payload.user_id = parseInt(sel.value, 10);
      $("chat-transfer-send").disabled = true;
      socket.emit("chat:transfer", payload, function (r) {
        $("chat-transfer-send").disabled = false;
        if (r && r.ok) { xNote.value = ""; $("chat-transfer-count").textContent = "0"; openTransfer(false); showPending(r.pending); input.focus(); }
        else { xError(errText(r)); if (r && (r.error === "not_online" || r.error === "bad_agent")) loadTargets(false); }
      });
    });
    /* statuses change while the list is open: ask again (the server decides who can take it) */
    socket.on("presence", function () {
      if (xBox.hidden) return;
      clearTimeout(xTimer);
      xTimer = setTimeout(function () { loadTargets(false); }, 150);
    });
  }
  if ($("chat-transfer-cancel")) $("chat-transfer-cancel").addEventListener("click", function () {
    socket.emit("chat:transfer_cancel", { chat_id: D.id }, function (r) { if (!(r && r.ok)) { hidePending(); result(errText(r)); } });
  });
  if (D.transfer) showPending(D.transfer);
  function becomeReadOnly(t) {   /* the colleague accepted: the chat is theirs now */
    D.mine = false;
    stopTyping();
    ["chat-composer", "chat-transfer", "chat-transfer-pending"].forEach(function (id) { if ($(id)) $(id).hidden = true; });
    ["chat-close", "chat-transfer-open"].forEach(function (id) { if ($(id)) $(id).remove(); });
    result("");
    $("chat-transferred").textContent = fill(T.transferred, t.to);
    $("chat-transferred").hidden = false;
    if (t.entry) add({ id: t.entry.id, sender: "system", at: t.entry.at, note: t.entry.note,
                       body: T.transfer_line.replace("{old}", t.entry.from).replace("{new}", t.entry.to) });
  }
  socket.on("chat:transfer", function (t) {
    if (t.chat_id !== D.id) return;
    if (t.state === "pending") showPending(t);
    else if (t.state === "withdrawn") { hidePending(); result(fill(T.withdrawn_reasons[t.reason] || "", t.to)); }
    else if (t.state === "done") becomeReadOnly(t);
  });

  var closeBtn = $("chat-close");
  if (closeBtn) closeBtn.addEventListener("click", function () {
    socket.emit("chat:close", { chat_id: D.id }, function (r) {
      if (r && r.ok) {
        $("chat-composer").hidden = true; $("chat-ended").hidden = false; closeBtn.remove();
        ["chat-transfer", "chat-transfer-pending"].forEach(function (id) { if ($(id)) $(id).hidden = true; });
        if (xOpen) xOpen.remove();
      }
    });
  });
})();
