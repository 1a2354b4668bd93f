// dexpulse console: the outage feed follows the server's event stream. On each event it
// fetches the feed's rows again as HTML rendered (and escaped) by the server; nothing the
// stream carries is put into the page.
"use strict";

(function () {
  var live = document.getElementById("live");
  if (!live || !window.EventSource || !window.fetch) {
    return;
  }
  var target = document.getElementById(live.dataset.target);
  var pending = false;
  var again = false;

  function refresh() {
    if (pending) {
      again = true;
      return;
    }
    pending = true;
    fetch(live.dataset.rows, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (response.redirected || response.status === 401) {
          window.location.reload(); // signed out: the page sends us to sign-in
          return null;
        }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html !== null && html !== undefined) {
          target.innerHTML = html;
          document.body.dataset.feedVersion = String(Number(document.body.dataset.feedVersion || 0) + 1);
        }
      })
      .finally(function () {
        pending = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  }

  var events = ["opened", "rescoped", "recovering", "ongoing", "resolved", "reopened", "acknowledged"];
  var stream = new EventSource(live.dataset.stream);
  events.forEach(function (name) {
    stream.addEventListener(name, refresh);
  });
  stream.addEventListener("open", function () {
    live.hidden = false;
    live.classList.remove("lost");
    live.textContent = "live";
  });
  stream.addEventListener("error", function () {
    live.classList.add("lost");
    live.textContent = "reconnecting";
  });
})();
