/* Contacts (CON-1…5): form rows, upload with size check and progress, mapping, import progress.
   User data is only ever set with textContent / value, never as HTML. */
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };

  // sort select submits its form
  Array.prototype.forEach.call(document.querySelectorAll("select[data-autosubmit]"), function (sel) {
    sel.addEventListener("change", function () { sel.form.submit(); });
  });

  // (forms with data-confirm ask in panel.js, once for every page)

  /* ---------- contact form: add another email / phone ---------- */
  Array.prototype.forEach.call(document.querySelectorAll("[data-add]"), function (btn) {
    btn.addEventListener("click", function () {
      var kind = btn.getAttribute("data-add");
      var box = btn.closest("fieldset");
      var rows = box.querySelectorAll(".multi-row");
      var last = rows[rows.length - 1];
      var n = rows.length;
      var row = last.cloneNode(true);
      Array.prototype.forEach.call(row.querySelectorAll(".field-error"), function (el) { el.remove(); });
      Array.prototype.forEach.call(row.querySelectorAll("input, select, label"), function (el) {
        ["id", "name", "for"].forEach(function (attr) {
          var v = el.getAttribute(attr);
          if (v) el.setAttribute(attr, v.replace(/_(\d+)$/, "_" + n));
        });
        if (el.tagName === "INPUT") { el.value = ""; el.removeAttribute("aria-invalid"); }
      });
      box.insertBefore(row, btn);
      var input = row.querySelector("input");
      if (input) input.focus();
    });
  });

  /* ---------- upload: drag and drop, size check before sending, progress ---------- */
  var form = $("upload-form");
  if (form) {
    var input = $("file"), zone = $("dropzone"), err = $("upload-error"), bar = $("upload-progress");
    var max = parseInt(form.getAttribute("data-max-bytes"), 10);
    var chosen = null;
    var showError = function (text) { err.textContent = text; err.hidden = !text; };
    var choose = function (file) {
      chosen = file || null;
      $("file-name").textContent = file ? file.name : "";
      if (file && file.size > max) { showError(form.getAttribute("data-too-large")); return false; }
      showError("");
      return true;
    };
    input.addEventListener("change", function () { choose(input.files[0]); });
    ["dragenter", "dragover"].forEach(function (ev) {
      zone.addEventListener(ev, function (e) { e.preventDefault(); zone.classList.add("dragging"); });
    });
    ["dragleave", "drop"].forEach(function (ev) {
      zone.addEventListener(ev, function (e) { e.preventDefault(); zone.classList.remove("dragging"); });
    });
    zone.addEventListener("drop", function (e) {
      var f = e.dataTransfer && e.dataTransfer.files[0];
      if (f) choose(f);
    });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var file = chosen || input.files[0];
      if (!file) { input.click(); return; }
      if (!choose(file)) return;
      var data = new FormData();
      data.append("csrf_token", form.querySelector("[name=csrf_token]").value);
      data.append("file", file, file.name);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", function (ev) {
        if (!ev.lengthComputable) return;
        bar.hidden = false;
        bar.value = Math.round(ev.loaded * 100 / ev.total);
      });
      xhr.onload = function () {
        var body = null;
        try { body = JSON.parse(xhr.responseText); } catch (x) { body = null; }
        if (xhr.status === 201 && body && body.next) { window.location.href = body.next; return; }
        bar.hidden = true;
        showError(body && body.error ? body.error.message : form.getAttribute("data-failed"));
      };
      xhr.onerror = function () { bar.hidden = true; showError(form.getAttribute("data-failed")); };
      $("upload-next").disabled = true;
      xhr.onloadend = function () { $("upload-next").disabled = false; };
      xhr.send(data);
    });
  }

  /* ---------- configure: Verify needs first and last name; numbers for multi-valued fields ---------- */
  var mapping = $("mapping-form");
  if (mapping) {
    var need = mapping.getAttribute("data-need").split(",");
    var multi = ["email", "email_type", "phone", "phone_type"];
    var selects = mapping.querySelectorAll(".field-select");
    var refresh = function () {
      var chosenFields = [];
      Array.prototype.forEach.call(selects, function (sel) {
        var th = sel.closest("th");
        var slot = th.querySelector(".slot-label");
        chosenFields.push(sel.value);
        th.classList.toggle("mapped", !!sel.value);
        th.querySelector(".tick").textContent = sel.value ? "\u2713" : "";
        slot.classList.toggle("is-hidden", multi.indexOf(sel.value) < 0);
      });
      var ok = need.every(function (f) { return chosenFields.indexOf(f) >= 0; });
      $("verify-btn").disabled = !ok;
    };
    Array.prototype.forEach.call(selects, function (sel) {
      sel.addEventListener("change", function () {
        // a second column for the same multi-valued field gets the next number
        if (multi.indexOf(sel.value) >= 0) {
          var used = [];
          Array.prototype.forEach.call(selects, function (o) {
            if (o !== sel && o.value === sel.value) used.push(parseInt(o.closest("th").querySelector(".slot-input").value, 10));
          });
          var slotInput = sel.closest("th").querySelector(".slot-input");
          var n = 1;
          while (used.indexOf(n) >= 0) n++;
          slotInput.value = n;
        }
        refresh();
      });
    });
    $("has_header").addEventListener("change", function () {
      var h = document.createElement("input");
      h.type = "hidden"; h.name = "action"; h.value = "save";
      mapping.appendChild(h);
      mapping.submit();
    });
    refresh();
  }

  /* ---------- import status list: progress of running steps ---------- */
  var table = $("imports");
  if (table) {
    var poll = function () {
      var running = table.querySelectorAll("tr[data-status=verifying], tr[data-status=importing]");
      if (!running.length) return;
      var pending = running.length, changed = false;
      Array.prototype.forEach.call(running, function (tr) {
        fetch(tr.getAttribute("data-url"), { headers: { "Accept": "application/json" }, credentials: "same-origin" })
          .then(function (r) { return r.json(); })
          .then(function (d) {
            var bar = tr.querySelector(".import-progress");
            // importing: processed of the verified records; verifying: the total is not known yet
            if (bar && d.status === "importing") { bar.max = Math.max(d.ok, 1); bar.value = d.processed; }
            var count = tr.querySelector(".import-processed");
            if (count) count.textContent = d.processed;
            if (d.status !== tr.getAttribute("data-status")) changed = true;
          })
          .catch(function () {})
          .then(function () {
            pending--;
            if (pending === 0) { if (changed) window.location.reload(); else window.setTimeout(poll, 1000); }
          });
      });
    };
    window.setTimeout(poll, 700);
  }
})();
