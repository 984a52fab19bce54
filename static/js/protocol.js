// The protocol page: «Утвердить и разослать» asks first (it mails every member); the edit
// form says when it has unsaved changes. Without scripts the forms still work (the server
// checks everything, including the confirmation about absent signatories).
(function () {
  "use strict";
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });
  var edit = document.getElementById("protocol-edit-form");
  var dirty = document.getElementById("edit-dirty");
  var saved = document.getElementById("edit-saved");
  if (edit && dirty) {
    edit.addEventListener("input", function () {
      dirty.hidden = false;
      if (saved) saved.hidden = true;
    });
  }
})();
