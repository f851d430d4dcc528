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
    meta.textContent = (m.sender === "agent" ? (m.agent || "") : T.visitor) + " · " + time(m.at);
    var body = document.createElement("p");
    body.className = "chat-body";
    if (m.file) {
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
      else error(T.taken);
    });
  }
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
  var closeBtn = $("chat-close");
  if (closeBtn) closeBtn.addEventListener("click", function () {
    socket.emit("chat:close", { chat_id: D.id }, function (r) {
      if (r && r.ok) { $("chat-composer").hidden = true; $("chat-ended").hidden = false; closeBtn.remove(); }
    });
  });
})();
