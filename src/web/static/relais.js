// relais — the one small script of the staff app. Pages work without it; it adds completion of collectivity
// names, drag and drop on the board, and sends the CSRF token with fetch calls.
"use strict";
document.documentElement.classList.add("js");
const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

// Completion against the embedded referential: type a name or code, pick with mouse or arrows + Enter.
function setupCompletion(box) {
  const input = box.querySelector('input[role="combobox"]');
  const hidden = box.querySelector('input[name="reference"]');
  const list = box.querySelector('[role="listbox"]');
  let items = [], active = -1, timer = null;
  const close = () => { list.hidden = true; input.setAttribute("aria-expanded", "false"); active = -1; };
  const choose = (i) => {
    const e = items[i]; if (!e) return;
    input.value = e.name; hidden.value = e.kind + ":" + e.code; close();
  };
  const render = () => {
    list.innerHTML = "";
    items.forEach((e, i) => {
      const li = document.createElement("li");
      li.id = "opt-" + i; li.setAttribute("role", "option"); li.setAttribute("aria-selected", i === active ? "true" : "false");
      const pop = e.population ? " · " + e.population.toLocaleString("fr-FR") + " hab." : "";
      const dep = e.departement_name ? " · " + e.departement_name + " (" + e.departement + ")" : "";
      li.textContent = e.name + " — " + e.kind_label + dep + pop;
      li.addEventListener("mousedown", (ev) => { ev.preventDefault(); choose(i); });
      list.appendChild(li);
    });
    list.hidden = items.length === 0; input.setAttribute("aria-expanded", items.length ? "true" : "false");
    if (active >= 0) input.setAttribute("aria-activedescendant", "opt-" + active);
  };
  input.addEventListener("input", () => {
    hidden.value = ""; clearTimeout(timer);
    const q = input.value.trim(); if (q.length < 2) { items = []; render(); return; }
    timer = setTimeout(async () => {
      const r = await fetch(box.dataset.complete + "?q=" + encodeURIComponent(q), { headers: { Accept: "application/json" } });
      if (r.ok) { items = await r.json(); active = -1; render(); }
    }, 120);
  });
  input.addEventListener("keydown", (ev) => {
    if (list.hidden) return;
    if (ev.key === "ArrowDown") { active = Math.min(active + 1, items.length - 1); render(); ev.preventDefault(); }
    else if (ev.key === "ArrowUp") { active = Math.max(active - 1, 0); render(); ev.preventDefault(); }
    else if (ev.key === "Enter" && active >= 0) { choose(active); ev.preventDefault(); }
    else if (ev.key === "Escape") { close(); }
  });
  input.addEventListener("blur", () => setTimeout(close, 100));
}

// Board: dropping a card on a column posts the stage change; declining asks for the reason first.
async function moveCard(card, column) {
  const stage = column.dataset.stage;
  let reason = "";
  if (stage === "declined") {
    const name = card.querySelector("a")?.textContent.trim() || "cette collectivité";
    reason = window.prompt(`Pourquoi ${name} ne donne-t-elle pas suite ? (raison du refus, gardée dans l'historique)`) || "";
    if (!reason.trim()) return;
  }
  const body = new URLSearchParams({ stage, reason });
  const r = await fetch("/targets/" + card.dataset.id + "/stage", {
    method: "POST", body, headers: { "X-CSRF-Token": csrf(), Accept: "application/json" },
  });
  if (!r.ok) { const e = await r.json().catch(() => ({})); window.alert(e.error || "Déplacement refusé."); return; }
  const from = card.closest(".column");
  column.querySelector(".cards").prepend(card);
  { const menu = card.querySelector("select[name=stage]"); if (menu) menu.value = stage; } // keep the card menu in step
  for (const [c, d] of [[from, -1], [column, 1]]) { const n = c.querySelector(".count"); n.textContent = Number.parseInt(n.textContent, 10) + d; } // totals, not just the cards shown
}

function setupBoard(board) {
  if (board.dataset.canWrite !== "true") return;
  let dragged = null;
  board.addEventListener("dragstart", (ev) => { dragged = ev.target.closest(".card-item"); ev.dataTransfer.setData("text/plain", dragged?.dataset.id || ""); });
  for (const column of board.querySelectorAll(".column")) {
    column.addEventListener("dragover", (ev) => { ev.preventDefault(); column.classList.add("drop"); });
    column.addEventListener("dragleave", () => column.classList.remove("drop"));
    column.addEventListener("drop", (ev) => {
      ev.preventDefault(); column.classList.remove("drop");
      if (dragged && dragged.closest(".column") !== column) moveCard(dragged, column);
    });
  }
  // Keyboard and touch: the card menu also moves without reloading.
  for (const form of board.querySelectorAll("form.move")) {
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const target = board.querySelector('.column[data-stage="' + form.stage.value + '"]');
      if (target) moveCard(form.closest(".card-item"), target);
    });
  }
}

// "Revenir en arrière" on error pages: back in history when there is one, else the link's own address.
function setupBackLink(link) {
  link.addEventListener("click", (ev) => {
    if (window.history.length > 1) { ev.preventDefault(); window.history.back(); }
  });
}

// A form (or its submit button) doing something irreversible carries data-confirm="…": the person reads the
// consequence and may cancel. Listening on the document while capturing runs this before any handler of
// the form itself, so a cancelled submission reaches neither the server nor a script.
function confirmIrreversible(ev) {
  const button = ev.submitter;
  // A menu whose chosen option carries its own question (the count depends on the choice) asks that one.
  const option = ev.target.querySelector?.("select option:checked[data-confirm]");
  const text = (button && button.dataset.confirm) || option?.dataset.confirm || ev.target.dataset.confirm;
  if (text && !window.confirm(text)) {
    ev.preventDefault();
    ev.stopImmediatePropagation();
  }
}

document.addEventListener("submit", confirmIrreversible, true);

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("a[data-back]").forEach(setupBackLink);
  document.querySelectorAll("[data-complete]").forEach(setupCompletion);
  document.querySelectorAll(".board").forEach(setupBoard);
});
