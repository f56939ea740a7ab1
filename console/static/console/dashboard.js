// Reads the dashboard fragment again every data-refresh-seconds; on failure keeps the last figures and says so.
(function () {
  "use strict";
  const board = document.getElementById("dashboard");
  if (!board) { return; }
  const seconds = Number(board.dataset.refreshSeconds) || 15;
  const problem = document.getElementById("dashboard-refresh-error");
  async function refresh() {
    try {
      const response = await fetch(board.dataset.url, {credentials: "same-origin", headers: {"Accept": "text/html"}});
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      board.innerHTML = await response.text();
      problem.hidden = true;
    } catch (error) {
      problem.textContent = "Last refresh failed (" + error.message + "): the figures above are older.";
      problem.hidden = false;
    }
  }
  window.setInterval(refresh, seconds * 1000);
})();
