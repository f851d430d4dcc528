/* Settings / Email and My mailbox: the rich-text boxes (signature, templates), the mailbox form
   (type switch, default ports, Test connection with the result inline) and the live state of the
   mailbox list. */
(function () {
  "use strict";

  function csrfOf(form) {
    var f = form.querySelector("input[name=csrf_token]");
    return f ? f.value : "";
  }

  // -- rich text: a formatted box that fills its textarea (the server cleans the HTML) --
  document.querySelectorAll(".rich-text").forEach(function (box) {
    var area = box.querySelector(".rich-area"), text = box.querySelector("textarea"),
        bar = box.querySelector(".rich-toolbar");
    area.innerHTML = text.value;
    area.hidden = false; bar.hidden = false; text.hidden = true;
    var sync = function () { text.value = area.innerHTML; };
    area.addEventListener("input", sync);
    if (text.form) text.form.addEventListener("submit", sync);
    bar.addEventListener("click", function (e) {
      var btn = e.target.closest("button[data-cmd]");
      if (!btn) return;
      var value = null;
      if (btn.dataset.prompt) {
        value = window.prompt(btn.dataset.prompt, "https://");
        if (!value) return;
      }
      area.focus();
      document.execCommand(btn.dataset.cmd, false, value);
      sync();
    });
  });

  var form = document.getElementById("mailbox-form");
  if (form) {
    // shared / personal: the agents or the owner; password / OAuth2: their fields
    [["kind", "kindPart", "data-kind-part"], ["auth", "authPart", "data-auth-part"]].forEach(function (sw) {
      form.querySelectorAll("input[name=" + sw[0] + "]").forEach(function (r) {
        r.addEventListener("change", function () {
          form.querySelectorAll("[" + sw[2] + "]").forEach(function (part) {
            part.hidden = part.dataset[sw[1]] !== r.value;
          });
        });
      });
    });
    // security changes the port while it is still one of the defaults
    form.querySelectorAll(".mail-server").forEach(function (set) {
      var side = set.dataset.side, port = form.querySelector("#" + side + "_port");
      var defaults = Array.prototype.map.call(set.querySelectorAll("input[data-port]"), function (r) { return r.dataset.port; });
      set.querySelectorAll("input[data-port]").forEach(function (r) {
        r.addEventListener("change", function () {
          if (!port.value || defaults.indexOf(port.value) >= 0) port.value = r.dataset.port;
        });
      });
    });
    // Test connection: the form's values as they are now (not saved)
    var button = document.getElementById("test-connection"), out = document.getElementById("test-result");
    button.addEventListener("click", function () {
      form.querySelectorAll(".rich-text").forEach(function (b) {
        b.querySelector("textarea").value = b.querySelector(".rich-area").innerHTML;
      });
      var label = button.textContent;
      button.disabled = true; button.textContent = button.dataset.busy;
      out.textContent = "";
      fetch(form.dataset.testUrl, {method: "POST", body: new FormData(form), credentials: "same-origin",
                                   headers: {"X-CSRFToken": csrfOf(form), "Accept": "application/json"}})
        .then(function (r) { return r.json(); })
        .then(function (data) { show(data); })
        .catch(function () { line("bad", "", button.dataset.failed, ""); })
        .finally(function () { button.disabled = false; button.textContent = label; });
    });

    function line(kind, title, message, detail) {
      var p = document.createElement("p");
      p.className = "test-line test-" + kind;
      if (title) {
        var strong = document.createElement("strong");
        strong.textContent = title + ": ";
        p.appendChild(strong);
      }
      p.appendChild(document.createTextNode(message));
      if (detail) {
        var small = document.createElement("span");
        small.className = "small muted test-detail";
        small.textContent = " (" + detail + ")";
        p.appendChild(small);
      }
      out.appendChild(p);
    }

    function show(data) {
      if (data.errors) {
        Object.keys(data.errors).forEach(function (field) {
          var input = form.querySelector("[name=" + field + "]");
          var name = input && input.labels && input.labels[0] ? input.labels[0].textContent.replace(" *", "") : field;
          line("bad", name, data.errors[field], "");
        });
        return;
      }
      ["imap", "smtp"].forEach(function (side) {
        var r = data.results && data.results[side];
        if (r) line(r.ok ? "ok" : "bad", r.side_label, r.message, r.ok ? "" : r.detail);
      });
    }
  }

  // -- the list's live state --
  var table = document.getElementById("mailboxes");
  if (table && table.dataset.stateUrl) {
    var poll = function () {
      fetch(table.dataset.stateUrl, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) return;
          data.items.forEach(function (m) {
            var row = table.querySelector("tr[data-mailbox='" + m.id + "']");
            if (!row) return;
            var pill = row.querySelector(".mailbox-state .pill"), err = row.querySelector(".mailbox-error");
            pill.className = "pill pill-mailbox-" + m.state;
            pill.textContent = m.label;
            err.textContent = m.last_error;
          });
        })
        .catch(function () {});
    };
    window.setInterval(poll, 5000);
  }
})();
