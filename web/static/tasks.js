/* Tasks tab (TSK-1): times in the browser's zone, the contact picker, confirmations. */
(function () {
  "use strict";
  var lang = document.documentElement.lang || [];
  function utc(iso) { return new Date(/(Z|[+-]\d\d:?\d\d)$/.test(iso) ? iso : iso + "Z"); }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function localInput(d) {
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  // <time data-local>: the server writes UTC, the agent reads their own clock
  document.querySelectorAll("time[data-local]").forEach(function (t) {
    var d = utc(t.getAttribute("datetime"));
    if (!isNaN(d)) t.textContent = d.toLocaleString(lang, { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  });

  // the due field: shown in local time, sent with the browser's offset
  var due = document.getElementById("due"), tz = document.getElementById("tz_offset");
  if (due && due.dataset.utc) due.value = localInput(utc(due.dataset.utc));
  if (tz) tz.value = String(new Date().getTimezoneOffset());
  if (due && tz) {
    due.addEventListener("change", function () {
      var d = new Date(due.value);   // local: the offset on that date (summer time)
      if (!isNaN(d)) tz.value = String(d.getTimezoneOffset());
    });
    var d0 = new Date(due.value);
    if (due.value && !isNaN(d0)) tz.value = String(d0.getTimezoneOffset());
  }

  // the browser's zone (IANA): the server reads the due time in it, summer time included, and
  // "1 day before" is the same clock time the day before there
  var zone = document.getElementById("time_zone");
  if (zone) {
    try { zone.value = Intl.DateTimeFormat().resolvedOptions().timeZone || zone.value; } catch (e) { /* offset only */ }
  }
  // the Remind hint follows the due field: a reminder needs a due date
  var hint = document.getElementById("remind-hint");
  if (due && hint) {
    var showHint = function () {
      var has = !!due.value;
      hint.querySelector("[data-when=due]").hidden = !has;
      hint.querySelector("[data-when=no-due]").hidden = has;
    };
    due.addEventListener("input", showHint);
    due.addEventListener("change", showHint);
  }

  // contact picker: suggestions from the server as the agent types
  var contact = document.getElementById("contact"), list = document.getElementById("contact-options");
  if (contact && list) {
    var timer = null, last = "";
    contact.addEventListener("input", function () {
      var q = contact.value.trim();
      if (q === last || q.length < 2 || /\(#\d+\)$/.test(q)) return;
      last = q;
      clearTimeout(timer);
      timer = setTimeout(function () {
        fetch(contact.dataset.source + "?q=" + encodeURIComponent(q), { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : { items: [] }; })
          .then(function (data) {
            list.textContent = "";
            data.items.forEach(function (item) {
              var o = document.createElement("option");
              o.value = item.label;
              list.appendChild(o);
            });
          }).catch(function () {});
      }, 200);
    });
  }

  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) { if (!window.confirm(f.dataset.confirm)) e.preventDefault(); });
  });
})();
