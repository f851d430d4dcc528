/* Settings / Voice / Trunks: live registration state of trunks that register with the carrier
   (VOI-1).  Polls a small JSON view while the page is open; text only, never HTML. */
(function () {
  "use strict";
  var table = document.getElementById("trunks");
  if (!table || !table.dataset.registrationsUrl) return;
  function registering() {
    return Array.prototype.some.call(table.querySelectorAll("td.trunk-registration"),
      function (td) { return td.dataset.registration !== ""; });
  }
  function refresh() {
    fetch(table.dataset.registrationsUrl, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (states) {
        if (!states) return;
        Object.keys(states).forEach(function (id) {
          var row = table.querySelector('tr[data-trunk="' + id + '"]');
          var st = states[id];
          var td = row && row.querySelector("td.trunk-registration");
          if (!td || !st || td.dataset.registration === st.state) return;
          td.dataset.registration = st.state;
          var pill = document.createElement("span");
          pill.className = "pill pill-reg-" + st.state;
          pill.textContent = st.label;
          td.replaceChildren(pill);
        });
      })
      .catch(function () { /* next round */ });
  }
  if (registering()) setInterval(refresh, 3000);
})();
