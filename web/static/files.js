/* Files tab (FIL-1): select a row for its details, double-click or Enter opens, upload checks,
   Move to… (a folder picker dialog) and moving by drag and drop onto a folder or the path. */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var cfgEl = $("files-config");
  var T = cfgEl ? JSON.parse(cfgEl.textContent) : {};
  document.querySelectorAll(".quota-bar [data-width]").forEach(function (bar) {
    bar.style.width = bar.dataset.width + "%";   // set here: the CSP allows no inline style attribute
  });

  function fmt(text, values) {
    return text.replace(/\{(\w+)\}/g, function (_, k) { return values[k] == null ? "" : values[k]; });
  }

  /* ---------- rows: select, details, open ---------- */
  var rows = Array.prototype.slice.call(document.querySelectorAll(".file-row"));
  function select(row) {
    rows.forEach(function (r) { r.classList.toggle("selected", r === row); });
    var d = row.dataset;
    $("details-empty").hidden = true;
    $("details-body").hidden = false;
    $("details-name").textContent = d.name;
    $("details-type").textContent = d.type;
    $("details-size").textContent = d.size;
    $("details-who").textContent = d.who;
    $("details-when").textContent = d.when;
    var hasWhere = !!d.where;
    $("details-where-label").hidden = !hasWhere;
    $("details-where").hidden = !hasWhere;
    $("details-where").textContent = d.where || "";
    $("details-open").href = d.open;
    $("details-open").target = d.kind === "file" ? "_blank" : "";
    $("details-download").hidden = d.kind !== "file";
    if (d.download) $("details-download").href = d.download;
    var rename = $("rename-form");
    rename.hidden = !d.rename;
    if (d.rename) { rename.action = d.rename; $("rename-name").value = d.name; }
    $("details-move").hidden = !d.move;
    selected = row;
  }
  var selected = null;
  function open(row) {
    if (row.dataset.kind === "folder") window.location.href = row.dataset.open;
    else window.open(row.dataset.open, "_blank", "noopener");
  }
  rows.forEach(function (row) {
    row.addEventListener("click", function (e) {
      if (e.target.closest("a, button, form")) return;   // links and buttons do their own thing
      select(row);
    });
    row.addEventListener("dblclick", function (e) {
      if (e.target.closest("button, form")) return;
      e.preventDefault();
      open(row);
    });
    row.addEventListener("focus", function () { select(row); });
    row.addEventListener("keydown", function (e) {
      if (e.target !== row) return;
      if (e.key === "Enter") { e.preventDefault(); open(row); }
      else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        var next = rows[rows.indexOf(row) + (e.key === "ArrowDown" ? 1 : -1)];
        if (next) { next.focus(); e.preventDefault(); }
      }
    });
  });
  // a single click on a name link selects; the link still works on double click / middle click
  document.querySelectorAll(".file-row .file-name a").forEach(function (a) {
    a.addEventListener("click", function (e) {
      if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
      e.preventDefault();
      select(a.closest(".file-row"));
    });
  });

  // (forms with data-confirm ask in panel.js, once for every page)

  /* ---------- Move to…: a dialog that walks the folders; the server checks everything again ---------- */
  var dialog = $("move-dialog"), moving = null, loadSeq = 0;
  function moveError(text) { $("move-error").textContent = text || ""; $("move-error").hidden = !text; }
  function folderButtons() { return Array.prototype.slice.call($("move-folders").querySelectorAll("button:not(:disabled)")); }
  function load(folderId, focusFirst) {
    var seq = ++loadSeq;
    moveError("");
    fetch(T.picker + (folderId ? "?folder=" + encodeURIComponent(folderId) : ""),
          { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) { if (seq === loadSeq) render(data, focusFirst); })
      .catch(function () { if (seq === loadSeq) moveError(T.load_failed); });
  }
  function render(data, focusFirst) {
    var here = data.id == null ? "" : String(data.id);
    $("move-target").value = here;
    var path = $("move-path"), crumbs = [{ id: null, name: T.top }].concat(data.path);
    path.textContent = "";
    crumbs.forEach(function (c, i) {
      if (i) {
        var sep = document.createElement("span");
        sep.setAttribute("aria-hidden", "true");
        sep.textContent = "›";
        path.appendChild(sep);
      }
      var b = document.createElement("button");
      b.type = "button";
      b.className = "link-btn";
      b.textContent = c.name;
      if (i === crumbs.length - 1) b.setAttribute("aria-current", "location");
      b.addEventListener("click", function () { load(c.id == null ? "" : c.id, true); });
      path.appendChild(b);
    });
    var list = $("move-folders");
    list.textContent = "";
    data.folders.forEach(function (f) {
      var li = document.createElement("li"), b = document.createElement("button");
      b.type = "button";
      b.dataset.id = f.id;
      var icon = document.createElement("span");
      icon.className = "file-icon folder";
      icon.setAttribute("aria-hidden", "true");
      var name = document.createElement("span");
      name.textContent = f.name;
      b.appendChild(icon);
      b.appendChild(name);
      if (moving.dataset.kind === "folder" && String(f.id) === moving.dataset.id) {
        b.disabled = true;   // a folder cannot go into itself (nor anywhere inside it)
        var note = document.createElement("span");
        note.className = "muted small";
        note.textContent = "(" + T.moving + ")";
        b.appendChild(note);
      } else {
        b.setAttribute("aria-label", T.open_folder.replace("{name}", f.name));
        var chev = document.createElement("span");
        chev.className = "chev-right";
        chev.setAttribute("aria-hidden", "true");
        chev.textContent = "›";
        b.appendChild(chev);
        b.addEventListener("click", function () { load(f.id, true); });
      }
      li.appendChild(b);
      list.appendChild(li);
    });
    list.hidden = !data.folders.length;
    $("move-empty").hidden = !!data.folders.length;
    var inside = moving.dataset.kind === "folder" &&
      data.path.some(function (p) { return String(p.id) === moving.dataset.id; });
    var already = here === (moving.dataset.parent || "");
    $("move-submit").disabled = already || inside;
    $("move-note").textContent = already ? T.here : inside ? T.into_itself : "";
    if (focusFirst) {
      var first = folderButtons()[0];
      (first || ($("move-submit").disabled ? path.lastChild : $("move-submit"))).focus();
    }
  }
  function openMove(row) {
    moving = row;
    $("move-form").action = row.dataset.move;
    $("move-title").textContent = fmt(T.move_title, { name: row.dataset.name });
    $("move-folders").textContent = "";
    $("move-path").textContent = "";
    $("move-note").textContent = "";
    dialog.showModal();
    load(row.dataset.parent || "", true);   // start where it is now
  }
  if (dialog) {
    $("details-move").addEventListener("click", function () { if (selected) openMove(selected); });
    $("move-cancel").addEventListener("click", function () { dialog.close(); });
    dialog.addEventListener("close", function () { if (moving) moving.focus(); });
    // arrows walk the list; left (or Backspace) goes one folder up
    $("move-folders").addEventListener("keydown", function (e) {
      var buttons = folderButtons(), i = buttons.indexOf(document.activeElement);
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        var next = buttons[i + (e.key === "ArrowDown" ? 1 : -1)];
        if (next) next.focus();
        e.preventDefault();
      } else if (e.key === "Home" || e.key === "End") {
        if (buttons.length) buttons[e.key === "Home" ? 0 : buttons.length - 1].focus();
        e.preventDefault();
      }
    });
    dialog.addEventListener("keydown", function (e) {
      if ((e.key === "ArrowLeft" || e.key === "Backspace") && e.target.closest("#move-folders, #move-path")) {
        var crumbs = $("move-path").querySelectorAll("button");
        if (crumbs.length > 1) { crumbs[crumbs.length - 2].click(); e.preventDefault(); }
      }
    });
  }

  /* ---------- drag a row onto a folder row or a breadcrumb ---------- */
  var dragged = null, DRAG_TYPE = "application/x-centrala-item";
  function droppable(el) {
    var target = el.dataset.dropFolder;
    if (!dragged || target === (dragged.dataset.parent || "")) return false;   // already there
    return !(dragged.dataset.kind === "folder" && target === dragged.dataset.id);
  }
  rows.forEach(function (row) {
    if (!row.dataset.move) return;
    row.addEventListener("dragstart", function (e) {
      dragged = row;
      e.dataTransfer.effectAllowed = "move";
      e.dataTransfer.setData(DRAG_TYPE, row.dataset.kind + ":" + row.dataset.id);
      e.dataTransfer.setData("text/plain", row.dataset.name);
      row.classList.add("dragging");
    });
    row.addEventListener("dragend", function () {
      row.classList.remove("dragging");
      dragged = null;
      document.querySelectorAll(".drop-here").forEach(function (el) { el.classList.remove("drop-here"); });
    });
  });
  document.querySelectorAll("[data-drop-folder]").forEach(function (el) {
    el.addEventListener("dragover", function (e) {
      if (!droppable(el)) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = "move";
      el.classList.add("drop-here");
    });
    el.addEventListener("dragleave", function (e) {
      if (!el.contains(e.relatedTarget)) el.classList.remove("drop-here");
    });
    el.addEventListener("drop", function (e) {
      el.classList.remove("drop-here");
      if (!dragged) return;
      e.preventDefault();
      e.stopPropagation();
      if (!droppable(el)) return;
      var f = $("drop-move-form");
      f.action = dragged.dataset.move;
      f.elements.folder_id.value = el.dataset.dropFolder;
      f.submit();
    });
  });

  /* ---------- upload: refuse what the server would refuse, before sending it ---------- */
  var form = $("upload-form");
  if (form) {
    var input = $("file-input"), err = $("upload-error");
    $("upload-submit").hidden = true;   // picking files sends them
    // files dropped anywhere on the card are uploaded to the folder shown
    var card = document.querySelector(".files-card");
    ["dragenter", "dragover"].forEach(function (type) {
      card.addEventListener(type, function (e) {
        if (!e.dataTransfer || Array.prototype.indexOf.call(e.dataTransfer.types, "Files") < 0) return;
        e.preventDefault();
        card.classList.add("drop-target");
      });
    });
    ["dragleave", "drop"].forEach(function (type) {
      card.addEventListener(type, function (e) {
        if (type === "dragleave" && card.contains(e.relatedTarget)) return;
        card.classList.remove("drop-target");
      });
    });
    card.addEventListener("drop", function (e) {
      if (!e.dataTransfer || !e.dataTransfer.files.length) return;
      e.preventDefault();
      input.files = e.dataTransfer.files;
      input.dispatchEvent(new Event("change"));
    });
    input.addEventListener("change", function () {
      var max = Number(form.dataset.max), room = Number(form.dataset.room), total = 0, problem = "";
      Array.prototype.forEach.call(input.files, function (f) {
        total += f.size;
        if (!problem && f.size > max) problem = fmt(T.too_large, { name: f.name });
        else if (!problem && total > room) problem = fmt(T.quota, { name: f.name });
      });
      err.textContent = problem;
      err.hidden = !problem;
      if (!problem && input.files.length) form.submit();
      else input.value = "";
    });
  }
})();
