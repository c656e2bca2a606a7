// resolve web: progressive enhancement only; every page works without this file.
// Confirmation for forms marked data-confirm (e.g. randomise).
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) { event.preventDefault(); }
});
