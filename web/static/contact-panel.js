/* The contact side panel (COM-4), one component for the call card and the chat view.
   Markup: templates/contacts/_side_panel.html (contact_panel macro).  Every [data-contact-panel]
   on the page gets a controller, reachable as element.contactPanel and through
   window.CentralaContactPanel.get(id):
     open({phone, email, name})  match the contact (GET /contacts/match) and show it, or the
                                 "Create contact" form prefilled with what is known
     close()                     hide a floating panel (Escape does it too; inline panels collapse)
   Writes go to /contacts/quick and /contacts/<id>/note-line with the page's CSRF token. */
(function () {
  "use strict";
  var textsEl = document.getElementById("contact-panel-texts");
  if (!textsEl) return;
  var T = JSON.parse(textsEl.textContent);
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.content : "";

  function fmt(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_, k) { return values[k] == null ? "" : values[k]; });
  }
  // SQLite hands back times without an offset; they are UTC
  function when(iso, withTime) {
    var d = new Date(/(Z|[+-]\d\d:?\d\d)$/.test(iso) ? iso : iso + "Z");
    var o = withTime ? { dateStyle: "short", timeStyle: "short" } : { dateStyle: "medium" };
    try { return d.toLocaleString(document.documentElement.lang || [], o); } catch (e) { return iso; }
  }
  function el(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text != null) n.textContent = text;
    return n;
  }
  function post(url, body) {
    return fetch(url, { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf }, body: JSON.stringify(body) })
      .then(function (r) { return r.json().catch(function () { return { ok: false }; }); });
  }

  function Panel(root) {
    var q = function (sel) { return root.querySelector(sel); };
    var floating = root.dataset.floating === "1";
    var toggleBtn = q(".cp-toggle"), body = q(".cp-body"), status = q(".cp-status");
    var view = q(".cp-contact"), create = q(".cp-create");
    var noteForm = q(".cp-note-form"), noteInput = q(".cp-note-input"), noteErr = q(".cp-note-error");
    var query = {}, contact = null, seq = 0, opener = null;

    function setStatus(text) { status.textContent = text || ""; status.hidden = !text; }
    function expand(open) {
      body.hidden = !open;
      toggleBtn.setAttribute("aria-expanded", open ? "true" : "false");
      root.classList.toggle("collapsed", !open);
    }
    toggleBtn.addEventListener("click", function () { expand(body.hidden); });
    var closeBtn = q(".cp-close");
    if (closeBtn) closeBtn.addEventListener("click", function () { close(true); });
    root.addEventListener("keydown", function (e) {
      if (e.key !== "Escape") return;
      e.stopPropagation();
      if (floating) close(true); else { expand(false); toggleBtn.focus(); }
    });

    function list(ul, items, render) {
      ul.innerHTML = "";
      items.forEach(function (it) { var li = el("li"); render(li, it); ul.appendChild(li); });
      ul.hidden = !items.length;
    }
    function showNote(note) {
      var p = q(".cp-note");
      p.textContent = note || "—";
      p.scrollTop = p.scrollHeight;
    }
    function showContact(c) {
      contact = c;
      root.dataset.contactId = c.id;
      setStatus("");
      create.hidden = true;
      view.hidden = false;
      var link = q(".cp-link");
      link.textContent = c.name;
      link.href = c.url;
      q(".cp-org").textContent = c.first_name || c.last_name ? c.organisation : "";
      q(".cp-org").hidden = !(c.organisation && (c.first_name || c.last_name));
      list(q(".cp-phones"), c.phones, function (li, p) {
        li.appendChild(el("span", "cp-value", p.number));
        li.appendChild(el("span", "muted small", " · " + p.type));
      });
      list(q(".cp-emails"), c.emails, function (li, m) {
        var a = el("a", "cp-value", m.email);
        a.href = "mailto:" + m.email;
        li.appendChild(a);
        li.appendChild(el("span", "muted small", " · " + m.type));
      });
      var dl = q(".cp-custom");
      dl.innerHTML = "";
      c.custom.forEach(function (f) { dl.appendChild(el("dt", null, f.name)); dl.appendChild(el("dd", "pre", f.value)); });
      dl.hidden = !c.custom.length;
      showNote(c.note);
      noteErr.hidden = true;
      list(q(".cp-comms"), c.communications, function (li, m) {
        var a = el("a", null, m.channel);
        a.href = m.url;
        a.target = "_blank";
        a.rel = "noopener";
        li.appendChild(el("time", "muted small", when(m.started_at, true) + " "));
        li.appendChild(a);
        li.appendChild(el("span", "pill outcome-" + m.outcome, m.outcome_label));
      });
      q(".cp-comms-empty").hidden = c.communications.length > 0;
      list(q(".cp-tasks"), c.tasks, function (li, t) {
        var a = el("a", null, t.title);
        a.href = t.url;
        a.target = "_blank";
        a.rel = "noopener";
        li.appendChild(a);
        if (t.due_at) li.appendChild(el("span", t.overdue ? "cp-overdue small" : "muted small",
                                        " " + (t.overdue ? T.overdue + " · " : "") + fmt(T.due, { date: when(t.due_at) })));
      });
      q(".cp-tasks-empty").hidden = c.tasks.length > 0;
      q(".cp-edit").href = c.edit_url;
      q(".cp-open").href = c.url;
    }
    function showCreate() {
      contact = null;
      delete root.dataset.contactId;
      view.hidden = true;
      setStatus("");
      var none = q(".cp-none");
      none.textContent = query.phone ? fmt(T.none_phone, { value: query.phone })
        : query.email ? fmt(T.none_email, { value: query.email }) : T.none;
      var parts = (query.name || "").trim().split(/\s+/);
      create.reset();
      create.elements.first_name.value = parts.length > 1 ? parts.slice(0, -1).join(" ") : (parts[0] || "");
      create.elements.last_name.value = parts.length > 1 ? parts[parts.length - 1] : "";
      create.elements.phone.value = query.phone || "";
      create.elements.email.value = query.email || "";
      clearErrors();
      create.hidden = false;
    }
    function clearErrors() {
      create.querySelectorAll("[data-error-for]").forEach(function (p) { p.hidden = true; p.textContent = ""; });
      create.querySelectorAll("input").forEach(function (i) { i.removeAttribute("aria-invalid"); });
      q(".cp-create-error").hidden = true;
    }

    function load() {
      var mine = ++seq;
      var params = [];
      if (query.phone) params.push("phone=" + encodeURIComponent(query.phone));
      if (query.email) params.push("email=" + encodeURIComponent(query.email));
      if (!params.length) {   // nothing to match by: offer the form in the chat view, say so beside a call
        if (floating) { view.hidden = true; create.hidden = true; setStatus(T.empty); } else showCreate();
        return;
      }
      setStatus(T.loading);
      fetch("/contacts/match?" + params.join("&"), { credentials: "same-origin" })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
        .then(function (r) {
          if (mine !== seq) return;   // a newer call or chat asked meanwhile
          if (r.contact) showContact(r.contact); else showCreate();
        })
        .catch(function () { if (mine === seq) { view.hidden = true; create.hidden = true; setStatus(T.error); } });
    }
    function open(what) {
      what = what || {};
      var same = query.phone === (what.phone || "") && query.email === (what.email || "");
      if (!floating || root.hidden) opener = document.activeElement;
      query = { phone: what.phone || "", email: what.email || "", name: what.name || "" };
      root.hidden = false;
      expand(true);
      if (!same || (!contact && create.hidden)) load();
    }
    function close(returnFocus) {
      if (!floating) { expand(false); return; }
      var had = root.contains(document.activeElement);
      root.hidden = true;
      root.dispatchEvent(new CustomEvent("contactpanel:closed"));
      if (returnFocus && had && opener && document.body.contains(opener)) opener.focus();
    }
    function reset() { seq++; query = {}; contact = null; view.hidden = true; create.hidden = true; close(false); }

    create.addEventListener("input", function (e) {   // a corrected field drops its message
      var p = create.querySelector('[data-error-for="' + e.target.name + '"]');
      if (p) { p.hidden = true; e.target.removeAttribute("aria-invalid"); }
    });
    create.addEventListener("submit", function (e) {
      e.preventDefault();
      clearErrors();
      var btn = q(".cp-create-btn");
      btn.disabled = true;
      var data = {};
      ["first_name", "last_name", "organisation", "phone", "email"].forEach(function (k) { data[k] = create.elements[k].value; });
      post("/contacts/quick", data).then(function (r) {
        btn.disabled = false;
        if (r.ok) {
          query.phone = query.phone || data.phone;
          showContact(r.contact);
          setStatus(fmt(T.created, { name: r.contact.name }));
          q(".cp-link").focus();
          return;
        }
        var first = null;
        Object.keys(r.errors || {}).forEach(function (k) {
          var p = create.querySelector('[data-error-for="' + k + '"]');
          var input = create.elements[k];
          if (!p || !input) { p = q(".cp-create-error"); input = null; }
          p.textContent = r.errors[k];
          p.hidden = false;
          if (input) { input.setAttribute("aria-invalid", "true"); first = first || input; }
        });
        if (!r.errors) { q(".cp-create-error").textContent = T.save_error; q(".cp-create-error").hidden = false; }
        if (first) first.focus();
      }).catch(function () {
        btn.disabled = false;
        q(".cp-create-error").textContent = T.save_error;
        q(".cp-create-error").hidden = false;
      });
    });

    noteForm.addEventListener("submit", function (e) {
      e.preventDefault();
      if (!contact) return;
      noteErr.hidden = true;
      noteInput.removeAttribute("aria-invalid");
      post("/contacts/" + contact.id + "/note-line", { text: noteInput.value }).then(function (r) {
        if (r.ok) {
          contact.note = r.note;
          showNote(r.note);
          noteInput.value = "";
          setStatus(T.note_added);
        } else {
          noteErr.textContent = r.error || T.save_error;
          noteErr.hidden = false;
          noteInput.setAttribute("aria-invalid", "true");
          noteInput.focus();
        }
      }).catch(function () { noteErr.textContent = T.save_error; noteErr.hidden = false; });
    });

    var api = { open: open, close: close, reset: reset, root: root,
                isOpen: function () { return !root.hidden; },
                contact: function () { return contact; } };
    root.contactPanel = api;
    if (root.dataset.autoload) {
      open({ phone: root.dataset.phone, email: root.dataset.email, name: root.dataset.name });
    }
    return api;
  }

  var panels = {};
  document.querySelectorAll("[data-contact-panel]").forEach(function (root) { panels[root.id] = Panel(root); });
  window.CentralaContactPanel = { get: function (id) { return panels[id] || null; } };
})();
