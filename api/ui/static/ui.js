// Live refresh of the worklist: fetch the rows again every few seconds and swap
// them in when they changed, keeping keyboard focus on the same task link.
(function () {
  "use strict";
  var table = document.getElementById("tasks");
  if (!table) return;
  var url = table.getAttribute("data-refresh-url");
  var seconds = parseFloat(table.getAttribute("data-refresh-seconds")) || 10;
  var status = document.getElementById("refresh-status");
  var busy = false;

  function refresh() {
    if (busy || document.hidden) return;
    busy = true;
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (response.redirected || !response.ok) throw new Error(response.status);
        return response.text();
      })
      .then(function (html) {
        var current = document.getElementById("task-rows");
        var holder = document.createElement("table");
        holder.innerHTML = html;
        var fresh = holder.querySelector("tbody");
        if (!fresh || !current) return;
        if (fresh.innerHTML === current.innerHTML) return;
        var focused = document.activeElement && document.activeElement.id;
        current.replaceWith(fresh);
        if (focused) {
          var again = document.getElementById(focused);
          if (again) again.focus();
        }
        if (status) status.textContent = "Updated " + new Date().toISOString().slice(11, 16) + " UTC";
      })
      .catch(function () {
        if (status) status.textContent = "Could not refresh; reload the page";
      })
      .finally(function () { busy = false; });
  }
  window.setInterval(refresh, seconds * 1000);
})();
