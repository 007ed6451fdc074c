// The kiosk screen: applies each screen pushed on /events, hides a result after its dwell
// time or when the stream is lost (a stale PASS must never stay up), L switches language.
(function () {
  "use strict";
  var lang = document.documentElement.lang === "en" ? "en" : "zh";
  var version = -1;
  var source = null;
  var retryMs = 1000;
  var dwellTimer = null;

  function root() {
    return document.getElementById("screen");
  }

  function armDwell() {
    var el = root();
    clearTimeout(dwellTimer);
    if (el.dataset.phase !== "decided") return;
    var ms = Number(el.dataset.dwellMs) || 0;
    if (ms <= 0) return;
    var bar = el.querySelector(".dwell-bar");
    if (bar) {
      bar.style.animationDuration = ms + "ms";
      bar.classList.add("running");
    }
    var shown = el.dataset.version;
    dwellTimer = setTimeout(function () {
      var now = root();
      if (now.dataset.version === shown) now.classList.add("expired");
    }, ms);
  }

  function apply(doc) {
    if (doc.version === version) return;
    version = doc.version;
    root().outerHTML = doc.html;
    armDwell();
    document.dispatchEvent(new CustomEvent("kiosk:screen", { detail: doc.screen }));
  }

  function setOnline(online) {
    document.body.classList.toggle("offline", !online);
    document.getElementById("offline").hidden = online;
  }

  function connect() {
    source = new EventSource("/events?lang=" + lang);
    source.onopen = function () {
      retryMs = 1000;
      setOnline(true);
    };
    source.onmessage = function (e) {
      setOnline(true);
      apply(JSON.parse(e.data));
    };
    source.onerror = function () {
      setOnline(false);
      if (source.readyState === EventSource.CLOSED) {
        // refused (e.g. 503: too many streams): the browser gives up, so we retry
        source.close();
        setTimeout(connect, retryMs);
        retryMs = Math.min(retryMs * 2, 10000);
      }
    };
  }

  document.addEventListener("keydown", function (e) {
    if (e.key === "l" || e.key === "L") {
      var params = new URLSearchParams(location.search);
      params.set("lang", lang === "en" ? "zh" : "en");
      location.search = params.toString();
    }
  });

  version = Number(root().dataset.version);
  armDwell();
  connect();
})();
