/* Email pages (issue 13): the conversation page (/email/<id>), New email (/email/new) and the
   thread in History.  Data comes in <script id="email-data" type="application/json">; answers of
   the POSTs are JSON {ok, error, field}.  Markup: templates/email/*.html. */
(function () {
  "use strict";
  var dataEl = document.getElementById("email-data");
  var D = dataEl ? JSON.parse(dataEl.textContent) : { urls: {}, texts: {}, templates: [] };
  var textsEl = document.getElementById("email-texts");
  var T = textsEl ? JSON.parse(textsEl.textContent) : {};
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.content : "";
  var $ = function (id) { return document.getElementById(id); };

  function post(url, body) {
    return fetch(url, { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf }, body: body })
      .then(function (r) { return r.json().catch(function () { return { ok: false }; }); });
  }

  // -- remote images: the body frame again, with its policy allowing them ------------------------
  document.querySelectorAll(".em-show-images").forEach(function (b) {
    b.addEventListener("click", function () {
      var frame = $(b.getAttribute("aria-controls"));
      if (frame) frame.src = b.dataset.src;
      b.closest(".em-images").hidden = true;
    });
  });

  // -- delivery state and Retry ----------------------------------------------------------------
  var DT = D.texts || {};
  function showDelivery(id, delivery, error) {
    var box = document.querySelector("#em-msg-" + id + " .em-delivery");
    if (!box) return;
    box.dataset.delivery = delivery;
    box.className = "em-delivery em-delivery-" + delivery;
    box.querySelector(".em-state").textContent = DT[delivery] || delivery;
    box.querySelector(".em-error").textContent = error || "";
    var retry = box.querySelector(".em-retry");
    if (retry) retry.hidden = delivery !== "failed";
  }
  function pending() {
    return document.querySelector('.em-delivery[data-delivery="queued"], .em-delivery[data-delivery="sending"]');
  }
  var polling = null;
  function poll() {
    if (!D.urls || !D.urls.state || polling) return;
    polling = setInterval(function () {
      if (!pending()) { clearInterval(polling); polling = null; return; }
      fetch(D.urls.state, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (j) {
        (j.messages || []).forEach(function (m) { showDelivery(m.id, m.delivery, m.error); });
      }).catch(function () {});
    }, 2000);
  }
  document.querySelectorAll(".em-retry").forEach(function (b) {
    b.addEventListener("click", function () {
      b.disabled = true;
      post(D.urls.retry.replace("{id}", b.dataset.id), new FormData()).then(function (j) {
        b.disabled = false;
        if (j.ok) { showDelivery(b.dataset.id, j.delivery, ""); poll(); }
        else alert(j.error || DT.error);
      });
    });
  });
  if (pending()) poll();

  // -- accept (the drawer's link carries ?accept=1) -------------------------------------------------
  var acceptBtn = $("email-accept");
  function accept() {
    acceptBtn.disabled = true;
    post(D.urls.accept, new FormData()).then(function (j) {
      if (j.ok) { location.replace(location.pathname); return; }
      acceptBtn.disabled = false;
      var status = $("email-status");
      status.textContent = (D.texts || {})[j.error] || (D.texts || {}).withdrawn || j.error;
      status.hidden = false;
    });
  }
  if (acceptBtn) {
    acceptBtn.addEventListener("click", accept);
    if (D.accept && D.offered) accept();
  }
  var closeBtn = $("email-close");
  if (closeBtn) closeBtn.addEventListener("click", function () {
    post(closeBtn.dataset.url, new FormData()).then(function (j) { if (j.ok) location.reload(); });
  });

  // -- the composer (reply box and New email) --------------------------------------------------------
  var form = $("email-reply") || $("email-new");
  if (!form) return;
  var body = $("em-body");
  var sendBtn = $("email-send");

  document.querySelectorAll(".em-toolbar [data-cmd]").forEach(function (b) {
    b.addEventListener("click", function () {
      var cmd = b.dataset.cmd, value = null;
      if (cmd === "createLink") {
        value = prompt(b.dataset.prompt, "https://");
        if (!value || !/^(https?:|mailto:)/i.test(value)) return;
      }
      body.focus();
      document.execCommand(cmd, false, value);
    });
  });

  // templates: searched by name (datalist), inserted at the cursor
  var tplInput = $("em-template"), tplList = $("em-template-list");
  (D.templates || []).forEach(function (t) {
    var o = document.createElement("option");
    o.value = t.title;
    tplList.appendChild(o);
  });
  if (!(D.templates || []).length) { tplInput.disabled = true; $("em-template-empty").hidden = false; }
  var lastRange = null;   // where the cursor was in the body (the template goes there)
  function keepRange() {
    var sel = window.getSelection();
    if (sel.rangeCount && body.contains(sel.anchorNode)) lastRange = sel.getRangeAt(0).cloneRange();
  }
  ["keyup", "mouseup", "input", "blur"].forEach(function (ev) { body.addEventListener(ev, keepRange); });
  function insertTemplate() {
    var t = (D.templates || []).filter(function (x) { return x.title === tplInput.value; })[0];
    if (!t) return;
    // DOM insertion, not execCommand("insertHTML"): that adds inline styles the CSP refuses
    var tpl = document.createElement("template");
    tpl.innerHTML = t.body;   // sanitized when saved, and again when sent
    var frag = tpl.content;
    if (lastRange) { lastRange.deleteContents(); lastRange.insertNode(frag); } else body.appendChild(frag);
    tplInput.value = "";
    body.focus();
  }
  tplInput.addEventListener("input", function (e) {   // picked from the list
    if (!e.inputType || e.inputType === "insertReplacementText") insertTemplate();
  });
  tplInput.addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); insertTemplate(); } });

  // attachments picked from Files
  var picked = $("em-picked"), results = $("em-file-results"), search = $("em-file-search"), timer = null;
  function pick(f) {
    if (picked.querySelector('input[value="' + f.id + '"]')) return;
    var li = document.createElement("li");
    li.className = "em-chip";
    li.textContent = f.name + " ";
    var input = document.createElement("input");
    input.type = "hidden"; input.name = "file_id"; input.value = f.id;
    var rm = document.createElement("button");
    rm.type = "button"; rm.className = "btn btn-small"; rm.textContent = T.remove || "Remove";
    rm.setAttribute("aria-label", (T.remove || "Remove") + ": " + f.name);
    rm.addEventListener("click", function () { li.remove(); search.focus(); });
    li.appendChild(input); li.appendChild(rm);
    picked.appendChild(li);
  }
  function listFiles() {
    fetch(D.urls.files + "?q=" + encodeURIComponent(search.value), { credentials: "same-origin" })
      .then(function (r) { return r.json(); }).then(function (j) {
        results.innerHTML = "";
        if (!j.items.length) { var li = document.createElement("li"); li.className = "muted small"; li.textContent = T.no_files; results.appendChild(li); }
        j.items.forEach(function (f) {
          var li = document.createElement("li");
          var b = document.createElement("button");
          b.type = "button"; b.className = "btn btn-small em-file-add"; b.dataset.id = f.id;
          b.textContent = (T.add || "Add") + ": " + f.name;
          b.addEventListener("click", function () { pick(f); });
          li.appendChild(b);
          results.appendChild(li);
        });
      });
  }
  search.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(listFiles, 200); });
  search.addEventListener("focus", function () { if (!results.children.length) listFiles(); });

  // contacts suggested in To/Cc (New email)
  var contactList = $("em-contact-list");
  if (contactList && D.urls.contacts) {
    ["em-to", "em-cc"].forEach(function (id) {
      var input = $(id), t = null;
      input.addEventListener("input", function () {
        clearTimeout(t);
        var last = input.value.split(",").pop().trim();
        if (last.length < 2) return;
        t = setTimeout(function () {
          fetch(D.urls.contacts + "?q=" + encodeURIComponent(last), { credentials: "same-origin" })
            .then(function (r) { return r.json(); }).then(function (j) {
              var before = input.value.split(",").slice(0, -1).map(function (s) { return s.trim(); }).filter(Boolean);
              contactList.innerHTML = "";
              j.items.forEach(function (c) {
                var o = document.createElement("option");
                o.value = before.concat([c.email]).join(", ");
                o.label = c.name ? c.name + " <" + c.email + ">" : c.email;
                contactList.appendChild(o);
              });
            });
        }, 200);
      });
    });
  }

  function showErrors(j) {
    form.querySelectorAll(".field-error").forEach(function (p) { p.hidden = true; p.textContent = ""; });
    var map = { text: "em-body-error", attachments: "em-attachments-error" };
    var target = $(map[j.field] || ("em-" + j.field + "-error")) || $("email-error");
    target.textContent = j.error || T.error;
    target.hidden = false;
    var input = j.field === "text" ? body : $("em-" + (j.field === "mailbox_id" ? "mailbox" : j.field));
    if (input) { input.setAttribute("aria-invalid", "true"); input.focus(); }
  }
  function submit(e) {
    if (e) e.preventDefault();
    var fd = new FormData(form);
    fd.set("html", body.innerHTML);
    ["to", "cc"].forEach(function (name) {   // one address a field, as the server reads them
      var v = fd.get(name);
      if (v === null) return;
      fd.delete(name);
      String(v).split(/[,;]/).map(function (s) { return s.trim(); }).filter(Boolean).forEach(function (a) { fd.append(name, a); });
    });
    sendBtn.disabled = true;
    sendBtn.textContent = T.sending || "…";
    post(D.urls.reply || D.urls.send, fd).then(function (j) {
      sendBtn.disabled = false;
      sendBtn.textContent = T.send || "Send";
      if (j.ok) { location.assign(j.url || location.pathname); return; }
      showErrors(j);
    }).catch(function () {
      sendBtn.disabled = false;
      sendBtn.textContent = T.send || "Send";
      showErrors({ error: T.error });
    });
  }
  form.addEventListener("submit", submit);
  form.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) submit(e);
  });
  if (location.hash === "#reply") body.focus();
})();
