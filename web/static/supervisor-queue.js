/* Live queue (supervisor): refresh the figures every two seconds from the page's JSON twin. */
(function () {
  var url = document.getElementById("queue-script").dataset.url;
  function fmt(s) { return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0"); }
  async function refresh() {
    try {
      const r = await fetch(url, {cache: "no-store"});
      if (!r.ok) return;
      const q = await r.json();
      document.getElementById("q-waiting").textContent = q.waiting;
      document.getElementById("q-longest").textContent = fmt(q.longest_wait);
      ["available", "on_call", "ringing", "paused"].forEach(function (k) {
        document.getElementById("q-" + k).textContent = q.agents[k];
      });
      const body = document.getElementById("q-callers");
      body.innerHTML = "";
      q.callers.forEach(function (c) {
        const tr = document.createElement("tr");
        const a = document.createElement("td"); a.textContent = c.number;
        const b = document.createElement("td"); b.textContent = c.wait + " s";
        tr.append(a, b); body.append(tr);
      });
      document.getElementById("q-empty").hidden = q.callers.length > 0;
    } catch (e) { /* keep the last view */ }
  }
  setInterval(refresh, 2000);
})();
