/* Centrala website chat loader: draws the chat in an iframe (the host page's CSS cannot reach
   it, and it cannot reach the host page). No cookies, nothing stored here. */
(function (w, d) {
  "use strict";
  if (w.__centralaChat) return;
  w.__centralaChat = 1;
  var C = {{ conf | tojson }};
  var f = d.createElement("iframe");
  var lang = d.documentElement.lang || "";
  f.src = C.frame + "?lang=" + encodeURIComponent(lang) + "&o=" + encodeURIComponent(location.origin) +
    "&u=" + encodeURIComponent(location.href) + "&t=" + encodeURIComponent(d.title || "");
  f.title = "Chat";
  f.setAttribute("data-centrala-chat", "");
  var css = { position: "fixed", border: "0", margin: "0", padding: "0", background: "transparent",
    width: "96px", height: "96px", "max-width": "100vw", "max-height": "100vh", "z-index": "2147483000",
    display: "block", "color-scheme": "normal", "box-shadow": "none", opacity: "1", visibility: "visible" };
  css[C.h] = Math.max(0, C.x - 16) + "px";
  css[C.v] = Math.max(0, C.y - 16) + "px";
  for (var k in css) f.style.setProperty(k, css[k], "important");
  w.addEventListener("message", function (e) {
    if (e.origin !== C.origin || e.source !== f.contentWindow) return;
    var m = e.data || {};
    if (m.centrala === "size") {
      f.style.setProperty("width", Math.min(+m.w || 96, 480) + "px", "important");
      f.style.setProperty("height", Math.min(+m.h || 96, 720) + "px", "important");
    }
  });
  // single-page sites: tell the widget about page changes made without a reload
  var last = location.href;
  function changed() {
    setTimeout(function () {
      if (location.href === last || !f.contentWindow) return;
      last = location.href;
      f.contentWindow.postMessage({ centrala: "page", u: location.href, t: d.title || "" }, C.origin);
    }, 300);
  }
  ["pushState", "replaceState"].forEach(function (name) {
    var orig = history[name];
    if (typeof orig !== "function") return;
    history[name] = function () { var r = orig.apply(this, arguments); changed(); return r; };
  });
  w.addEventListener("popstate", changed);
  w.addEventListener("hashchange", changed);
  function mount() { (d.body || d.documentElement).appendChild(f); }
  if (d.body) mount(); else d.addEventListener("DOMContentLoaded", mount);
})(window, document);
