// Agenda rows of the meeting form: add and remove rows. Progressive enhancement: without
// this script the form still works with the blank rows the server renders.

const table = document.querySelector("[data-agenda]");
const addButton = document.querySelector("[data-agenda-add]");

if (table && addButton) {
  const body = table.tBodies[0];

  const renumber = () => {
    Array.from(body.rows).forEach((row, i) => {
      const cell = row.querySelector("[data-n]");
      if (cell) cell.textContent = String(i + 1);
    });
  };

  const clear = (row) => {
    row.querySelectorAll("input").forEach((input) => { input.value = ""; });
    row.querySelectorAll("select").forEach((select) => { select.selectedIndex = 0; });
    row.querySelectorAll(".field-error").forEach((el) => el.remove());
    row.querySelectorAll(".has-error").forEach((el) => el.classList.remove("has-error"));
  };

  body.addEventListener("click", (event) => {
    const button = event.target.closest("[data-agenda-remove]");
    if (!button) return;
    const row = button.closest("tr");
    if (body.rows.length > 1) {
      const next = row.nextElementSibling || row.previousElementSibling;
      row.remove();
      const focusTarget = next && next.querySelector("input");
      if (focusTarget) focusTarget.focus();
    } else {
      clear(row);
    }
    renumber();
  });

  addButton.addEventListener("click", () => {
    const last = body.rows[body.rows.length - 1];
    const copy = last.cloneNode(true);
    clear(copy);
    body.appendChild(copy);
    renumber();
    const input = copy.querySelector("input");
    if (input) input.focus();
  });

  addButton.hidden = false;
  table.querySelectorAll("[data-agenda-remove]").forEach((button) => { button.hidden = false; });
}
