/* Files tab (FIL-1): select a row for its details, double-click or Enter opens, upload checks. */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var cfgEl = $("files-config");
  var T = cfgEl ? JSON.parse(cfgEl.textContent) : {};

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
  }
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

  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.dataset.confirm)) e.preventDefault();
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
