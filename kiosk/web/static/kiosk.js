// The kiosk screen: applies each screen pushed on /events, hides a result after its dwell
// time or when the stream is lost (a stale PASS must never stay up), speaks each new prompt
// (语音播报, local clips), L switches language.
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

  // -- voice: each screen names its clips (data-voice) and an event key (data-voice-key);
  // a new key plays the clips in order, replacing whatever still plays. What was played (or
  // refused by the browser) is reported on #voice's data-played and in the console.
  var voice = document.getElementById("voice");
  var voiceKey = root().dataset.voiceKey || "";
  var playing = null;

  function report(what) {
    var list = voice.dataset.played ? voice.dataset.played.split(" ") : [];
    list.push(what);
    voice.dataset.played = list.slice(-50).join(" ");
    console.info("voice: " + what);
  }

  var generation = 0;

  function speak(names) {
    // a newer prompt replaces the current one: the old queue stops at its next step
    var mine = ++generation;
    if (playing) playing.pause();
    playing = null;
    var queue = names.slice();
    function next() {
      var name = queue.shift();
      if (!name || mine !== generation) return;
      var audio = new Audio(voice.dataset.base + name + ".ogg");
      audio.volume = Number(voice.dataset.volume);
      audio.onended = next;
      playing = audio;
      audio.play().then(
        function () { report(name); },
        function (err) {
          if (mine !== generation) return; // interrupted by a newer prompt: not a refusal
          report("refused:" + name);
          console.warn(err);
          next();
        }
      );
    }
    next();
  }

  function announce() {
    var el = root();
    var key = el.dataset.voiceKey || "";
    if (key === voiceKey) return;
    voiceKey = key;
    if (voice.dataset.enabled === "on" && el.dataset.voice) speak(el.dataset.voice.split(" "));
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
    announce();
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
