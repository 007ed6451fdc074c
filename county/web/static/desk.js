// Alerts page: reload the table when the server says the alerts changed (SSE), keep typed notes.
(function () {
  "use strict";
  var box = document.getElementById("alerts-box");
  var live = document.getElementById("live");
  if (!box || !window.EventSource) { return; }
  var lang = document.body.getAttribute("data-lang") || "zh";
  function busy() {
    var el = document.activeElement;
    return el && el.tagName === "INPUT" && box.contains(el) && el.value;
  }
  function refresh() {
    if (busy()) { setTimeout(refresh, 1000); return; }
    fetch(box.getAttribute("data-src"), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) { box.innerHTML = html; box.setAttribute("data-refreshed", String(Date.now())); })
      .catch(function () { /* next event retries */ });
  }
  var source = new EventSource(box.getAttribute("data-events"));
  source.addEventListener("open", function () { live.setAttribute("data-state", "open"); });
  source.addEventListener("error", function () { live.setAttribute("data-state", "closed"); });
  source.addEventListener("alerts", refresh);
  void lang;
})();
