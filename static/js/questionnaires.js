// Builder: show the options and «другое» only for choice questions.
(function () {
  "use strict";
  function sync(select) {
    var form = select.form;
    var choice = select.value === "single" || select.value === "multiple";
    form.querySelectorAll(".q-options, .q-other").forEach(function (el) {
      el.classList.toggle("q-hidden", !choice);
    });
  }
  document.querySelectorAll("select.q-kind").forEach(function (select) {
    sync(select);
    select.addEventListener("change", function () { sync(select); });
  });
})();
