// resolve web: progressive enhancement only; every page works without this file.
// Confirmation for forms marked data-confirm (e.g. randomise).
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) { event.preventDefault(); }
});

// Tables wider than the screen scroll sideways in a .table-wrap box: let keyboard users
// reach and scroll it (WCAG 2.1.1), named after the table's caption.
function focusableScrollers() {
  document.querySelectorAll(".table-wrap").forEach(function (box) {
    if (box.scrollWidth > box.clientWidth + 1) {
      var caption = box.querySelector("caption");
      box.setAttribute("tabindex", "0");
      box.setAttribute("data-scroller", "");
      if (caption) {
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", caption.textContent.trim());
      }
    } else if (box.hasAttribute("data-scroller")) {
      ["tabindex", "role", "aria-label", "data-scroller"].forEach(function (name) {
        box.removeAttribute(name);
      });
    }
  });
}
document.addEventListener("DOMContentLoaded", focusableScrollers);
window.addEventListener("resize", focusableScrollers);
