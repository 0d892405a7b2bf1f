// The dashboard's only script: keeps the page's live part fresh and shows times as
// "3 min ago". Every second it asks the same URL with the X-Tagshare-Live header and
// the version it shows; the server answers 204 (unchanged) or {"version", "html"}.
// The HTML comes from the server's autoescaped templates, so it is inserted as is.
(function () {
  "use strict";
  var POLL_MS = 1000;
  var live = document.getElementById("live");
  var stamp = document.getElementById("refreshed");

  function ago(date) {
    var seconds = Math.round((Date.now() - date.getTime()) / 1000);
    var future = seconds < 0;
    var s = Math.abs(seconds);
    var text;
    if (s < 5) return future ? "now" : "just now";
    if (s < 60) text = s + " s";
    else if (s < 3600) text = Math.round(s / 60) + " min";
    else if (s < 86400) text = Math.round(s / 3600) + " h";
    else text = Math.round(s / 86400) + " d";
    return future ? "in " + text : text + " ago";
  }

  function humanizeTimes(root) {
    var times = root.querySelectorAll("time[datetime]");
    for (var i = 0; i < times.length; i++) {
      var date = new Date(times[i].getAttribute("datetime"));
      if (isNaN(date.getTime())) continue;
      times[i].title = date.toLocaleString();
      times[i].textContent = ago(date);
    }
  }

  function poll() {
    if (!live || !live.dataset.version || document.hidden) return;
    fetch(location.pathname + location.search, {
      headers: {"X-Tagshare-Live": live.dataset.version},
      credentials: "same-origin",
      cache: "no-store"
    }).then(function (response) {
      if (response.status === 401) { location.reload(); return null; }
      if (stamp) stamp.textContent = "updated " + new Date().toLocaleTimeString();
      return response.status === 200 ? response.json() : null;
    }).then(function (update) {
      if (update && update.version !== live.dataset.version) {
        live.innerHTML = update.html;
        live.dataset.version = update.version;
        humanizeTimes(live);
      }
    }).catch(function () {
      if (stamp) stamp.textContent = "cannot reach the node";
    });
  }

  humanizeTimes(document);
  setInterval(function () { humanizeTimes(document); }, 10000);
  setInterval(poll, POLL_MS);
})();
