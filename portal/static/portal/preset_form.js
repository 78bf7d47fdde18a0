// "Add a connection from a preset": show only the credentials the chosen preset needs and
// highlight its row (with the paths to confirm). Without JavaScript every field stays visible.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const select = document.querySelector("#preset-form select[name=preset]");
  if (!select) return;
  const secrets = ["token", "api_key", "client_id", "client_secret"];
  const update = () => {
    const row = document.querySelector(`#preset-overview tr[data-preset="${select.value}"]`);
    const needs = row ? row.dataset.needs.split(" ") : secrets;
    document.querySelectorAll("#preset-overview tr[data-preset]").forEach((r) => {
      r.classList.toggle("chosen", r === row);
    });
    secrets.forEach((name) => {
      const field = document.querySelector(`#preset-form [data-field="${name}"]`);
      if (field) field.hidden = !needs.includes(name);
    });
  };
  select.addEventListener("change", update);
  update();
});
