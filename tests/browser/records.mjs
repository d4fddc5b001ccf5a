// Confirmations before the irreversible, in headless Chromium: the prompts before deleting a target, sending
// an issue and subscribing the contacts of a stage state the consequence with real names and numbers, and a
// dismissed prompt changes nothing; a follow-up is corrected from its page with a success message; an
// accepted prompt deletes the target and the list says so.
//
//   node tests/browser/records.mjs <base_url> <email> <password> <target_id> <issue_id>
//
// Run by tests/browser.rs, which prepared Lyon (one follow-up) and a ready issue « Lettre n° 4 » with one
// subscriber, and checks the database afterwards. Exits 0 when every step passed, 1 with a message (and a
// screenshot) otherwise.

import { mkdirSync } from "node:fs";
import path from "node:path";
import { Failure, check, launch, watchCsp } from "./chromium.mjs";

const [baseUrl, email, password, targetId, issueId] = process.argv.slice(2);
if (!baseUrl || !email || !password || !targetId || !issueId) {
  console.error("usage: node records.mjs <base_url> <email> <password> <target_id> <issue_id>");
  process.exit(2);
}
const shotDir = process.env.RELAIS_SCREENSHOTS || ".";
mkdirSync(shotDir, { recursive: true });
const url = (p) => new URL(p, baseUrl).toString();
const step = (text) => console.log(`[records] ${text}`);

const browser = await launch("records");
const context = await browser.newContext({ locale: "fr-FR", viewport: { width: 1366, height: 900 } });
const page = await context.newPage();
const violations = [];
watchCsp(page, violations);

// Every confirmation is recorded; `answer` says whether the next one is accepted.
const prompts = [];
let answer = false;
page.on("dialog", (dialog) => {
  prompts.push(`${dialog.type()}: ${dialog.message()}`);
  (answer && dialog.type() === "confirm" ? dialog.accept() : dialog.dismiss()).catch(() => {});
});
const lastPrompt = () => prompts.at(-1) ?? "(aucune)";
const notice = async () => ((await page.locator("p.notice.saved[role=status]").first().textContent().catch(() => "")) ?? "").trim();

let exitCode = 0;
try {
  step("log in");
  await page.goto(url("/login"));
  await page.locator("#email").fill(email);
  await page.locator("#password").fill(password);
  await Promise.all([
    page.waitForURL((u) => !u.pathname.startsWith("/login")),
    page.getByRole("button", { name: "Se connecter" }).click(),
  ]);

  step("correct a follow-up");
  await page.goto(url(`/targets/${targetId}`));
  await page.getByText("Modifier ou supprimer cet échange").click();
  const summary = page.locator('#interactions input[name="summary"]');
  await summary.fill("Appel au cabinet du maire");
  await Promise.all([page.waitForLoadState("load"), page.getByRole("button", { name: "Enregistrer l'échange" }).click()]);
  const saved = await notice();
  check(/^Échange du \d\d\/\d\d\/\d{4} modifié pour Lyon\.$/.test(saved), `success message after the edit: « ${saved} »`);
  check((await page.locator("#interactions").innerText()).includes("Appel au cabinet du maire"), "the corrected follow-up shows");

  step("a dismissed prompt keeps the target");
  const before = prompts.length;
  await page.getByRole("button", { name: "Supprimer la cible Lyon" }).click();
  await page.waitForTimeout(300);
  check(prompts.length === before + 1, `one prompt before deleting, got ${prompts.length - before}`);
  check(
    lastPrompt().startsWith("confirm: Supprimer la cible Lyon ? Cela supprime 1 échange, 1 ligne de l'historique des étapes et aucun besoin local. Les contacts (1) restent dans l'annuaire"),
    `the prompt says what goes: ${lastPrompt()}`,
  );
  check(new URL(page.url()).pathname === `/targets/${targetId}`, `still on the target after dismissing: ${page.url()}`);

  step("sending an issue names it and counts the subscribers");
  await page.goto(url(`/lettre/numeros/${issueId}`));
  await page.getByRole("button", { name: "Envoyer maintenant aux abonnés" }).click();
  await page.waitForTimeout(300);
  check(lastPrompt() === "confirm: Envoyer « Lettre n° 4 » à 1 abonné·e ? Cela ne peut pas être annulé.", `send prompt: ${lastPrompt()}`);
  check((await page.locator("[role=status]").first().innerText()).includes("prêt"), "the dismissed issue is still ready");

  step("subscribing a stage's contacts counts them");
  await page.goto(url("/abonnes"));
  await page.locator("#selection").selectOption("identified");
  await page.getByRole("button", { name: "Abonner", exact: true }).click();
  await page.waitForTimeout(300);
  check(lastPrompt().includes("les contacts de l'étape « Identifiée » (1 collectivité) ?"), `subscribe prompt: ${lastPrompt()}`);
  check(new URL(page.url()).pathname === "/abonnes", "nothing was posted");

  step("an accepted prompt deletes the target");
  await page.goto(url(`/targets/${targetId}`));
  answer = true;
  await Promise.all([
    page.waitForURL((u) => u.pathname === "/targets"),
    page.getByRole("button", { name: "Supprimer la cible Lyon" }).click(),
  ]);
  const deleted = await notice();
  check(deleted === "Cible Lyon supprimée ; ses contacts restent dans l'annuaire.", `message after deleting: « ${deleted} »`);
  check(violations.length === 0, `content security policy violations:\n  ${violations.join("\n  ")}`);
  console.log(`[records] prompts seen:\n  ${prompts.join("\n  ")}`);
  console.log("[records] passed");
} catch (error) {
  exitCode = 1;
  console.error(`[records] FAILED at ${page.url()}: ${error instanceof Failure ? error.message : error.stack}`);
  const shot = path.join(shotDir, "records-failure.png");
  try {
    await page.screenshot({ path: shot, fullPage: true });
    console.error(`SCREENSHOT failure ${shot}`);
  } catch (e) {
    console.error(`[records] no screenshot: ${e.message}`);
  }
} finally {
  await browser.close().catch(() => {});
}
process.exit(exitCode);
