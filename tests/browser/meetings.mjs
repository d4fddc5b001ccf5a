// Drives the meetings pages in headless Chromium: a staff member creates the bimonthly series, opens its
// first meeting, builds the agenda (an item with its presenter, duration and a practical sheet), marks it
// ready and sees when the agenda and its invitation will go out. Then a contact invited to the needs survey
// fills part of it on a phone and keeps a draft. Phone width is checked on the pages.
//
//   node tests/browser/meetings.mjs <base_url> <email> <password> <first_start YYYY-MM-DDTHH:MM> <survey_path>
//
// Run by tests/browser.rs. Exits 0 when every step passed, 1 with a message (and a screenshot) otherwise.

import { mkdirSync } from "node:fs";
import path from "node:path";
import { Failure, check, launch, watchCsp } from "./chromium.mjs";

const [baseUrl, email, password, firstStart, surveyPath] = process.argv.slice(2);
if (!baseUrl || !email || !password || !firstStart || !surveyPath) {
  console.error("usage: node meetings.mjs <base_url> <email> <password> <first_start> <survey_path>");
  process.exit(2);
}
const shotDir = process.env.RELAIS_SCREENSHOTS || ".";
mkdirSync(shotDir, { recursive: true });
const url = (p) => new URL(p, baseUrl).toString();
const step = (text) => console.log(`[meetings] ${text}`);

const browser = await launch("meetings");
const context = await browser.newContext({ locale: "fr-FR", viewport: { width: 1440, height: 900 } });
const page = await context.newPage();
const violations = [];
watchCsp(page, violations);
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

  step("add a practical sheet");
  await page.goto(url("/reunions"));
  await page.getByText("Ajouter une fiche").click();
  await page.locator("#resource-title").fill("Fiche : raccorder un terrain à l'eau");
  await page.locator("#resource-url").fill("https://fiches.example/eau");
  await Promise.all([page.waitForLoadState("load"), page.getByRole("button", { name: "Ajouter la fiche" }).click()]);
  check((await page.content()).includes("raccorder un terrain"), "the sheet should be in the library");

  step("create the series");
  const chosen = async (id) => (await page.locator(`${id} option:checked`).innerText()).trim();
  check(await chosen("#series-cadence") === "tous les deux mois" && await chosen("#series-ordinal") === "premier"
    && await chosen("#series-weekday") === "mardi", "the default is every two months on the first Tuesday");
  await page.locator("#series-start").fill(firstStart);
  await page.locator("#series-video").fill("https://visio.example/club");
  await Promise.all([page.waitForLoadState("load"), page.getByRole("button", { name: "Créer la série" }).click()]);
  const first = page.locator("#upcoming-meetings tbody tr").first();
  const when = await first.locator("td").first().innerText();
  check(when.startsWith("mardi 1er décembre 2026, 14:00"), `the first meeting: ${when}`);
  const series = await page.locator("p.series").first().innerText();
  check(series.includes("tous les deux mois, le premier mardi, 14:00–16:00, depuis le 01/12/2026"), `the series: ${series}`);
  check(!series.includes("FREQ="), `no iCalendar rule shown: ${series}`);

  step("build the agenda");
  await Promise.all([page.waitForURL((u) => /\/reunions\/\d+$/.test(u.pathname)), first.locator("a").click()]);
  await page.getByText("Ajouter un point").click();
  await page.locator("#item-title").fill("Raccordement à l'eau des terrains");
  await page.locator("#item-presenter").fill("Ville de Lyon");
  await page.locator("#item-duration").fill("30");
  await page.getByLabel("Fiche : raccorder un terrain à l'eau").check();
  await Promise.all([page.waitForLoadState("load"), page.getByRole("button", { name: "Ajouter le point" }).click()]);
  const agenda = await page.locator("#agenda").innerText();
  check(agenda.includes("Raccordement à l'eau des terrains") && agenda.includes("Ville de Lyon") && agenda.includes("30 min"),
    `the agenda: ${agenda}`);
  check(agenda.includes("Fiche : raccorder un terrain"), "the item links its sheet");

  step("remove an agenda item, after a confirmation naming it");
  const dialogs = [];
  let acceptDialog = false;
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    (acceptDialog ? dialog.accept() : dialog.dismiss()).catch(() => {});
  });
  await page.getByText("Ajouter un point").click();
  await page.locator("#item-title").fill("Tour de table");
  await Promise.all([page.waitForLoadState("load"), page.getByRole("button", { name: "Ajouter le point" }).click()]);
  check((await page.locator("[role=status].notice").innerText()).includes("Point « Tour de table » ajouté"), "the item's success message");
  const removeTour = page.locator("#agenda li", { hasText: "Tour de table" }).getByRole("button", { name: "Retirer" });
  await removeTour.click();
  await page.waitForTimeout(300);
  check(dialogs.at(-1) === "Retirer « Tour de table » de l'ordre du jour ?", `the confirmation: ${dialogs.at(-1)}`);
  check((await page.locator("#agenda").innerText()).includes("Tour de table"), "a dismissed confirmation removes nothing");
  acceptDialog = true;
  await Promise.all([page.waitForLoadState("load"), removeTour.click()]);
  check(!(await page.locator("#agenda").innerText()).includes("Tour de table"), "the item is removed once confirmed");
  check((await page.locator("[role=status].notice").innerText()).includes("« Tour de table » est retiré de l'ordre du jour"), "the removal's message");

  step("the cancel button says who is told, and nothing happens when dismissed");
  acceptDialog = false;
  await page.getByText("Déplacer, donner un thème, annuler").click();
  await page.getByRole("button", { name: "Annuler cette réunion" }).click();
  await page.waitForTimeout(300);
  check(dialogs.at(-1).startsWith("Annuler la réunion du mardi 1er décembre 2026 ? Rien n'a encore été envoyé"), `the cancel confirmation: ${dialogs.at(-1)}`);
  check(!(await page.locator("#meeting-status").innerText()).includes("annulée"), "a dismissed cancellation cancels nothing");

  step("mark it ready and see the scheduled dispatch");
  await Promise.all([page.waitForLoadState("load"), page.getByRole("button", { name: "Marquer l'ordre du jour prêt" }).click()]);
  const status = await page.locator("#meeting-status").innerText();
  check(status.includes("prêt, envoi prévu le 24 novembre 2026 à 14:00"), `the scheduled dispatch: ${status}`);
  await page.screenshot({ path: path.join(shotDir, "meeting.png"), fullPage: true });
  await page.goto(url("/reunions"));
  check((await page.locator("#upcoming-meetings").innerText()).includes("prêt, envoi prévu le 24 novembre 2026"),
    "the list shows it too");

  step("a second series, deleted after a confirmation stating how many meetings go with it");
  await page.getByText("Nouvelle série").click();
  await page.locator("#series-title").fill("Réunion mensuelle");
  await page.locator("#series-cadence").selectOption("mensuelle");
  await page.locator("#series-ordinal").selectOption("3");
  await page.locator("#series-weekday").selectOption("3");
  await page.locator("#series-start").fill("2027-03-18T10:00");
  await Promise.all([page.waitForLoadState("load"), page.getByRole("button", { name: "Créer la série" }).click()]);
  check((await page.locator("[role=status].notice").innerText()).includes("Série « Réunion mensuelle » créée."), "the series' success message");
  const monthly = page.locator("p.series", { hasText: "Réunion mensuelle" });
  check((await monthly.innerText()).includes("tous les mois, le troisième jeudi, 10:00–12:00"), `the second series: ${await monthly.innerText()}`);
  await Promise.all([page.waitForURL((u) => /\/reunions\/series\/\d+$/.test(u.pathname)), monthly.getByRole("link", { name: "Modifier ou supprimer" }).click()]);
  check(await page.locator("#series-cadence").inputValue() === "mensuelle" && await page.locator("#series-ordinal").inputValue() === "3"
    && await page.locator("#series-weekday").inputValue() === "3", "the edit form shows the rule in the creation form's choices");
  const remove = page.getByRole("button", { name: /^Supprimer la série et \d+ réunion/ });
  await remove.click();
  await page.waitForTimeout(300);
  check(/^Supprimer la série « Réunion mensuelle » et \d+ réunions prévues \?/.test(dialogs.at(-1)), `the delete confirmation: ${dialogs.at(-1)}`);
  check(/\/reunions\/series\/\d+$/.test(new URL(page.url()).pathname), "a dismissed confirmation deletes nothing");
  acceptDialog = true;
  await Promise.all([page.waitForURL((u) => u.pathname === "/reunions"), remove.click()]);
  check((await page.locator("[role=status].notice").innerText()).includes("Série « Réunion mensuelle » supprimée"), "the deletion's message");
  check(await page.locator("p.series", { hasText: "Réunion mensuelle" }).count() === 0, "the series is gone");

  step("phone width");
  await page.setViewportSize({ width: 390, height: 844 });
  for (const phonePath of ["/reunions", "/recensement"]) {
    await page.goto(url(phonePath));
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    check(width <= 390, `${phonePath} is ${width} pixels wide on a 390-pixel phone screen`);
  }

  step("the survey on a phone, kept as a draft");
  const phone = await browser.newContext({ locale: "fr-FR", viewport: { width: 390, height: 844 } });
  const survey = await phone.newPage();
  watchCsp(survey, violations);
  await survey.goto(url(surveyPath));
  await survey.getByLabel("Quels sont les principaux problèmes que vous rencontrez ?").fill("Pas d'accès à l'eau");
  await survey.locator("#interest-eau").selectOption("2");
  await survey.locator("#experience-eau").selectOption("1");
  await Promise.all([survey.waitForLoadState("load"), survey.getByRole("button", { name: "Enregistrer et finir plus tard" }).click()]);
  check((await survey.locator("[role=status]").innerText()).includes("Vos réponses sont enregistrées"), "the draft is saved");
  await survey.goto(url(surveyPath));
  check(await survey.locator("#interest-eau").inputValue() === "2", "the draft comes back");
  const surveyWidth = await survey.evaluate(() => document.documentElement.scrollWidth);
  check(surveyWidth <= 390, `the survey is ${surveyWidth} pixels wide on a phone`);
  await survey.screenshot({ path: path.join(shotDir, "survey-phone.png"), fullPage: true });
  check(violations.length === 0, `content security policy violations:\n  ${violations.join("\n  ")}`);
  console.log("[meetings] passed");
} catch (error) {
  exitCode = 1;
  console.error(`[meetings] FAILED at ${page.url()}: ${error instanceof Failure ? error.message : error.stack}`);
  const shot = path.join(shotDir, "meetings-failure.png");
  try {
    await page.screenshot({ path: shot, fullPage: true });
    console.error(`SCREENSHOT failure ${shot}`);
  } catch (e) {
    console.error(`[meetings] no screenshot: ${e.message}`);
  }
} finally {
  await browser.close().catch(() => {});
}
process.exit(exitCode);
