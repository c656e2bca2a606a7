// Participant self-report: save each answer as it is chosen (progressive enhancement;
// without this file every answer is saved when the participant presses "Next").
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var form = event.target.form;
    if (!form || !form.hasAttribute("data-autosave") || !window.fetch || !window.FormData) {
      return;
    }
    var status = document.getElementById("autosave-status");
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { "X-Resolve-Autosave": "1" },
      credentials: "omit"
    }).then(function (response) {
      if (status) {
        status.textContent = status.getAttribute(response.ok ? "data-saved" : "data-failed");
      }
    }).catch(function () {
      if (status) { status.textContent = status.getAttribute("data-failed"); }
    });
  });
})();
