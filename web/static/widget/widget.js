/* Centrala website chat widget (runs inside the iframe the loader draws).
   Everything anyone sends is shown with textContent: never parsed as HTML. */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("widget-config").textContent);
  var T = cfg.texts;
  document.body.style.setProperty("--c", cfg.color);   // the CSP allows no inline style attribute
  var params = new URLSearchParams(location.search);
  var page = { url: params.get("u") || "", title: params.get("t") || "" };
  var storeKey = "centrala-chat:" + cfg.key;
  var token = null;
  try { token = localStorage.getItem(storeKey); } catch (e) { /* storage blocked */ }
  var online = cfg.online, chat = null, accepted = false, agent = cfg.agent;
  var visitor = { name: "", email: "" }, pending = null, isOpen = false, userToggled = false;

  function el(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text != null) n.textContent = text;
    return n;
  }
  function fmt(s, v) { return s.replace(/\{(\w+)\}/g, function (_, k) { return v[k] == null ? "" : v[k]; }); }

  /* ---------- layout ---------- */
  var app = document.getElementById("app");
  var launcher = el("button", "launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-label", T.open);
  launcher.innerHTML = '<svg class="i-chat" viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16v12H8l-4 4z"/></svg>' +
    '<svg class="i-close" viewBox="0 0 24 24" aria-hidden="true"><path d="M6 6l12 12M18 6L6 18"/></svg>';
  var unreadBadge = el("span", "unread");
  unreadBadge.hidden = true;
  launcher.appendChild(unreadBadge);
  var unread = 0;
  var panel = el("section", "panel");
  panel.hidden = true;
  panel.setAttribute("aria-label", T.title);
  var head = el("header", "head");
  var face = el("span", "face");
  var who = el("div", "who");
  var whoName = el("strong", "who-name"), whoRole = el("span", "who-role");
  who.appendChild(whoName); who.appendChild(whoRole);
  var closeBtn = el("button", "x");
  closeBtn.type = "button";
  closeBtn.setAttribute("aria-label", T.close);
  closeBtn.textContent = "\u00d7";
  head.appendChild(face); head.appendChild(who); head.appendChild(closeBtn);
  var log = el("div", "log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  var typing = el("p", "typing", T.typing);
  typing.hidden = true;
  var extra = el("div", "extra");
  var composer = el("form", "composer");
  var input = el("textarea");
  input.rows = 2;
  input.maxLength = cfg.max;
  input.placeholder = T.placeholder;
  input.setAttribute("aria-label", T.placeholder);
  var send = el("button", "send", T.send);
  send.type = "submit";
  var attach = el("button", "attach");
  attach.type = "button";
  attach.setAttribute("aria-label", T.attach);
  attach.title = T.attach;
  attach.innerHTML = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M21 11l-8.5 8.5a5 5 0 0 1-7-7L14 4a3.5 3.5 0 0 1 5 5l-8.5 8.5a2 2 0 0 1-3-3L15 7"/></svg>';
  attach.hidden = true;
  var fileInput = el("input");
  fileInput.type = "file";
  fileInput.accept = "image/png,image/jpeg,image/gif,image/webp,application/pdf";
  fileInput.hidden = true;
  composer.appendChild(attach); composer.appendChild(fileInput);
  composer.appendChild(input); composer.appendChild(send);
  panel.appendChild(head); panel.appendChild(log); panel.appendChild(typing); panel.appendChild(extra);
  panel.appendChild(composer);
  app.appendChild(panel); app.appendChild(launcher);

  function showAgent() {
    face.textContent = "";
    if (agent && agent.avatar) {
      var img = el("img"); img.src = agent.avatar; img.alt = ""; face.appendChild(img);
    } else if (!agent && cfg.logo) {
      var logo = el("img"); logo.src = cfg.logo; logo.alt = ""; face.appendChild(logo);
    } else {
      face.textContent = agent ? agent.initials : (cfg.company || "?").slice(0, 1).toUpperCase();
    }
    whoName.textContent = agent ? agent.name : (cfg.company || T.company);
    whoRole.textContent = agent ? (agent.position || T.support) : T.support;
  }

  function resize() {
    var w = isOpen ? 400 : 96, h = isOpen ? 640 : 96;
    parent.postMessage({ centrala: "size", w: w, h: h }, "*");
  }
  function setOpen(open) {
    isOpen = open;
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", open ? "true" : "false");
    document.body.classList.toggle("open", open);
    resize();
    if (open) { unread = 0; unreadBadge.hidden = true; }
    if (open) { render(); setTimeout(function () { (composer.hidden ? panel : input).focus && input.focus(); }, 0); }
  }
  launcher.addEventListener("click", function () { userToggled = true; setOpen(!isOpen); });
  closeBtn.addEventListener("click", function () { userToggled = true; setOpen(false); launcher.focus(); });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape" && isOpen) setOpen(false); });

  /* ---------- messages ---------- */
  function bubble(sender, text, cls, file) {
    var b = el("div", "msg msg-" + sender + (cls ? " " + cls : ""));
    if (file) {
      var a = el("a", "file");
      a.href = file.url; a.target = "_blank"; a.rel = "noopener noreferrer";
      if (file.image) { var img = el("img"); img.src = file.url; img.alt = file.name; a.appendChild(img); }
      else a.textContent = "PDF · " + file.name;
      b.appendChild(a);
    } else b.appendChild(el("p", "body", text));
    log.appendChild(b);
    log.scrollTop = log.scrollHeight;
    return b;
  }
  function note(text) { var n = bubble("system", text); return n; }
  var seen = {};
  function addMessage(m) {
    if (m.id && seen[m.id]) return;
    if (m.id) seen[m.id] = 1;
    bubble(m.sender, m.body, null, m.file);
  }
  function intro() {
    log.textContent = "";
    seen = {};
    bubble("agent", T.title, "intro");
  }

  /* ---------- the extra area: consent, data form, offline form ---------- */
  function clearExtra() { extra.textContent = ""; composer.hidden = false; }
  function field(label, type, name, value) {
    var wrap = el("label", "field");
    wrap.appendChild(el("span", null, label));
    var i = el(type === "textarea" ? "textarea" : "input");
    if (type !== "textarea") i.type = type;
    i.name = name;
    i.value = value || "";
    wrap.appendChild(i);
    var err = el("span", "err");
    err.hidden = true;
    wrap.appendChild(err);
    return { wrap: wrap, input: i, err: err };
  }
  function validEmail(v) { return /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v); }

  function askConsent(required) {
    extra.textContent = "";
    composer.hidden = true;
    if (required) extra.appendChild(el("p", "note", T.required));
    else extra.appendChild(el("p", "note", T.consent));
    var row = el("div", "choices");
    var yes = el("button", "choice", T.yes), no = el("button", "choice", T.no);
    yes.type = no.type = "button";
    yes.dataset.choice = "yes"; no.dataset.choice = "no";
    row.appendChild(yes); row.appendChild(no);
    extra.appendChild(row);
    yes.addEventListener("click", dataForm);
    no.addEventListener("click", function () {
      if (cfg.force_data) { askConsent(true); return; }
      var body = pending; pending = null; clearExtra();
      emitMessage({ body: body });
    });
  }
  function dataForm() {
    extra.textContent = "";
    composer.hidden = true;
    var f = el("form", "data-form");
    f.noValidate = true;
    var n = field(T.name, "text", "name", visitor.name), m = field(T.email, "email", "email", visitor.email);
    var ok = el("button", "send", T.ok);
    ok.type = "submit";
    f.appendChild(n.wrap); f.appendChild(m.wrap); f.appendChild(ok);
    extra.appendChild(f);
    n.input.focus();
    f.addEventListener("submit", function (e) {
      e.preventDefault();
      var name = n.input.value.trim(), email = m.input.value.trim(), bad = false;
      n.err.hidden = !!name; n.err.textContent = T.bad_name; if (!name) bad = true;
      m.err.hidden = validEmail(email); m.err.textContent = T.bad_email; if (!validEmail(email)) bad = true;
      if (bad) return;
      var body = pending; pending = null;
      emitMessage({ body: body, name: name, email: email }, function (r) {
        if (r && r.field === "email") { m.err.hidden = false; pending = body; return true; }
        if (r && r.field === "name") { n.err.hidden = false; pending = body; return true; }
      });
    });
  }
  function offlineForm(prefill) {
    extra.textContent = "";
    composer.hidden = true;
    var f = el("form", "offline-form");
    f.noValidate = true;
    f.appendChild(el("p", "note", T.offline_title));
    var n = field(T.name, "text", "name", visitor.name), m = field(T.email, "email", "email", visitor.email);
    var t = field(T.message, "textarea", "message", prefill || "");
    t.input.maxLength = cfg.max;
    var ok = el("button", "send", T.submit);
    ok.type = "submit";
    f.appendChild(n.wrap); f.appendChild(m.wrap); f.appendChild(t.wrap); f.appendChild(ok);
    extra.appendChild(f);
    f.addEventListener("submit", function (e) {
      e.preventDefault();
      var name = n.input.value.trim(), email = m.input.value.trim(), text = t.input.value.trim();
      n.err.textContent = T.bad_name; n.err.hidden = !!name;
      m.err.textContent = T.bad_email; m.err.hidden = validEmail(email);
      t.err.textContent = T.error; t.err.hidden = !!text;
      if (!name || !validEmail(email) || !text) return;
      ok.disabled = true;
      socket.emit("offline", { name: name, email: email, message: text, url: page.url, title: page.title,
                               lang: cfg.lang, origin: cfg.origin }, function (r) {
        ok.disabled = false;
        if (r && r.ok) {
          saveToken(r.token);
          extra.textContent = "";
          extra.appendChild(el("p", "note thanks", T.thanks));
        } else {
          var target = r && r.field === "email" ? m : r && r.field === "name" ? n : t;
          target.err.textContent = T[r && r.error] || T.error; target.err.hidden = false;
        }
      });
    });
  }

  function render() {
    attach.hidden = !chat;
    if (chat) { clearExtra(); return; }
    if (!online && !pending) offlineForm("");
    else if (!pending && extra.querySelector(".offline-form")) clearExtra();
  }

  /* ---------- socket ---------- */
  function saveToken(t) {
    if (!t) return;
    token = t;
    try { localStorage.setItem(storeKey, t); } catch (e) { /* storage blocked: this page only */ }
  }
  var socket = io("/visitor", {
    transports: ["websocket", "polling"],
    auth: function (cb) { cb({ key: cfg.key, token: token, url: page.url, title: page.title, lang: cfg.lang, origin: cfg.origin }); }
  });

  function emitMessage(data, onError) {
    data.url = page.url; data.title = page.title; data.lang = cfg.lang; data.origin = cfg.origin;
    socket.emit("message", data, function (r) {
      if (r && r.ok) {
        saveToken(r.token);
        if (data.name) visitor = { name: data.name, email: data.email };
        clearExtra();
        if (!chat) { chat = r.chat_id; attach.hidden = false; if (!accepted) note(T.waiting); }
        if (r.message) { seen[r.message.id] = 1; }
        if (data._bubble) data._bubble.classList.remove("pending");
        return;
      }
      if (onError && onError(r)) return;
      var code = r && r.error;
      if (code === "offline") { online = false; offlineForm(data.body); }
      else if (code === "data_required") { pending = data.body; askConsent(true); }
      else note(T[code] || T.error);
    });
  }

  attach.addEventListener("click", function () { fileInput.click(); });
  fileInput.addEventListener("change", function () {
    var f = fileInput.files[0];
    fileInput.value = "";
    if (!f || !token) return;
    if (f.size > cfg.max_file) { note(T.too_large_file); return; }
    var fd = new FormData();
    fd.append("file", f);
    fetch("upload", { method: "POST", body: fd, headers: { "X-Visitor-Token": token } })
      .then(function (r) { return r.json(); })
      .then(function (r) { if (r.ok) addMessage(r.message); else note(r.message || T.error); })
      .catch(function () { note(T.error); });
  });

  composer.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    stopTyping();
    if (!chat && cfg.ask_data && !(visitor.name && visitor.email)) {
      pending = text;
      bubble("visitor", text, "pending");
      askConsent(false);
      return;
    }
    var b = bubble("visitor", text);
    emitMessage({ body: text, _bubble: b });
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); composer.requestSubmit(); }
  });

  var typingSent = 0, typingTimer = null;
  function stopTyping() {
    clearTimeout(typingTimer);
    if (typingSent) { typingSent = 0; if (chat) socket.emit("typing", { typing: false }); }
  }
  input.addEventListener("input", function () {
    if (!chat) return;
    var now = Date.now();
    if (now - typingSent > 2000) { typingSent = now; socket.emit("typing", { typing: true }); }
    clearTimeout(typingTimer);
    typingTimer = setTimeout(stopTyping, 3000);
  });

  socket.on("state", function (st) {
    if (st.visitor) visitor = st.visitor;
    if (st.chat) {
      chat = st.chat.id;
      accepted = st.chat.accepted;
      if (st.chat.agent) agent = st.chat.agent;
      intro();
      st.chat.messages.forEach(addMessage);
      showAgent();
      if (!isOpen) setOpen(true);   // a conversation goes on across pages
    }
    render();
  });
  socket.on("message", function (m) {
    addMessage(m);
    if (!isOpen && m.sender === "agent") {
      unread += 1;
      unreadBadge.textContent = String(unread);
      unreadBadge.hidden = false;
    }
  });
  var typingHide = null;
  socket.on("typing", function (t) {
    typing.hidden = !t.typing;
    clearTimeout(typingHide);
    if (t.typing) typingHide = setTimeout(function () { typing.hidden = true; }, 6000);
  });
  socket.on("accepted", function (a) {
    accepted = true;
    agent = a.agent;
    showAgent();
    if (a.message) addMessage(a.message);   // a colleague took the chat over (kept in the transcript)
    else note(fmt(T.joined, { name: a.agent ? a.agent.name : "" }));
  });
  socket.on("closed", function () {
    chat = null; accepted = false; attach.hidden = true;
    typing.hidden = true;
    note(T.closed);
    render();
  });
  socket.on("availability", function (a) {
    online = a.online;
    if (!chat && a.agent) agent = a.agent;
    showAgent();
    render();
  });

  window.addEventListener("message", function (e) {
    var m = e.data || {};
    if (e.source !== parent || (cfg.origin && e.origin !== cfg.origin) || m.centrala !== "page") return;
    page = { url: String(m.u || ""), title: String(m.t || "") };
    if (token) socket.emit("page", page);
  });

  intro();
  showAgent();
  resize();
  if (cfg.trigger) {
    setTimeout(function () {
      if (userToggled || chat) return;
      bubble("agent", cfg.trigger.message, "trigger");
      setOpen(true);
    }, (cfg.trigger.delay || 0) * 1000);
  }
})();
