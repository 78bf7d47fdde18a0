// Field mapping form: choosing another connection reloads the form for it, so the CRM custom
// field list is that connection's (what was typed is kept in the query string).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const select = document.querySelector("#fieldmapping_form select[name=connection]");
  if (!select || !document.querySelector("#fieldmapping_form") || !location.pathname.endsWith("/add/")) return;
  select.addEventListener("change", () => {
    const params = new URLSearchParams(location.search);
    params.set("connection", select.value);
    const type = document.querySelector("#fieldmapping_form select[name=object_type]");
    if (type && type.value) params.set("object_type", type.value);
    location.search = params.toString();
  });
});
