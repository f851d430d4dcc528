/* Password links carry their token in the URL fragment (never sent to the server, so never
   logged): post it in the body, and take it off the address bar and the history. */
(function () {
  var form = document.getElementById("open-link");
  var token = decodeURIComponent((location.hash || "").replace(/^#/, ""));
  history.replaceState(null, "", location.pathname);
  if (!token) {
    document.getElementById("message").textContent = form.dataset.missing;
    return;
  }
  form.elements.token.value = token;
  form.submit();
})();
