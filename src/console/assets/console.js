// Warden console: live updates. Pages work without this file; with it, the part of a page
// marked `data-live` is fetched again every 2 s and replaced when it changed. A refresh is
// skipped while the tab is hidden or while focus is inside that part (so keyboard users do not
// lose their place), and open <details> stay open.
(function () {
  "use strict";
  var INTERVAL = 2000;
  var live = document.querySelector("[data-live]");
  if (!live || !window.fetch || !window.DOMParser) {
    return;
  }
  var last = null;
  var busy = false;

  function openIds(root) {
    var ids = [];
    root.querySelectorAll("details[open][id]").forEach(function (d) {
      ids.push(d.id);
    });
    return ids;
  }

  function refresh() {
    if (busy || document.hidden || live.contains(document.activeElement)) {
      return;
    }
    busy = true;
    fetch(window.location.href, {
      credentials: "same-origin",
      headers: { "X-Warden-Live": "1" },
      redirect: "error"
    })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("status " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var next = doc.querySelector("[data-live]");
        if (!next) {
          return;
        }
        if (next.innerHTML === last) {
          return;
        }
        last = next.innerHTML;
        var open = openIds(live);
        live.innerHTML = next.innerHTML;
        open.forEach(function (id) {
          var d = document.getElementById(id);
          if (d) {
            d.open = true;
          }
        });
        document.body.classList.remove("stale");
      })
      .catch(function () {
        document.body.classList.add("stale");
      })
      .then(function () {
        busy = false;
      });
  }

  last = live.innerHTML;
  window.setInterval(refresh, INTERVAL);
})();
