// Drives the newsletter in headless Chromium: a staff member adds two items, makes an issue of them, looks at
// its HTML and text previews, gives it the schedule's next date and marks it ready; then a visitor without an account subscribes through the
// public form. Phone width is checked on the new pages.
//
//   node tests/browser/newsletter.mjs <base_url> <email> <password> <visitor_email>
//
// Run by tests/browser.rs (which keeps the application's test clock moving, so the form's anti-bot delay
// passes). Exits 0 when every step passed, 1 with a message (and a screenshot) otherwise.

import { mkdirSync } from "node:fs";
import path from "node:path";
import { Failure, check, launch, watchCsp } from "./chromium.mjs";

const [baseUrl, email, password, visitor] = process.argv.slice(2);
if (!baseUrl || !email || !password || !visitor) {
  console.error("usage: node newsletter.mjs <base_url> <email> <password> <visitor_email>");
  process.exit(2);
}
const shotDir = process.env.RELAIS_SCREENSHOTS || ".";
mkdirSync(shotDir, { recursive: true });
const url = (p) => new URL(p, baseUrl).toString();

const step = (text) => console.log(`[newsletter] ${text}`);

const browser = await launch("newsletter");
const context = await browser.newContext({ locale: "fr-FR", viewport: { width: 1440, height: 900 } });
let page = await context.newPage();
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

  step("add two items");
  const items = [
    ["legal", "Circulaire du 1er décembre", "Voir le [texte officiel](https://www.legifrance.gouv.fr/)."],
    ["figures", "Vingt mille personnes", "Selon le **dernier recensement**."],
  ];
  for (const [category, title, body] of items) {
    await page.goto(url("/lettre"));
    await page.locator("#category").selectOption(category);
    await page.locator("#item-title").fill(title);
    await page.locator("#item-body").fill(body);
    await Promise.all([page.waitForLoadState("load"), page.getByRole("button", { name: "Ajouter l'élément" }).click()]);
    check((await page.content()).includes(title), `the item « ${title} » should wait for an issue`);
  }

  step("make an issue and preview it");
  await page.locator("#issue-title").fill("n° 1 — décembre");
  await Promise.all([
    page.waitForURL((u) => /\/lettre\/numeros\/\d+$/.test(u.pathname)),
    page.getByRole("button", { name: "Créer le numéro avec les éléments cochés" }).click(),
  ]);
  const frame = page.frameLocator("iframe[title='Aperçu HTML du numéro']");
  await frame.locator("h2", { hasText: "Actualité juridique" }).waitFor();
  const link = await frame.locator("a", { hasText: "texte officiel" }).getAttribute("href");
  check(link === "https://www.legifrance.gouv.fr/", `the HTML preview should carry the item's link, not ${link}`);
  const text = await page.locator("pre").innerText();
  check(text.includes("== Chiffres clés ==") && text.includes("Vingt mille personnes"), `the text preview: ${text}`);

  step("schedule it");
  const firstDate = await page.locator("#at option").nth(1).innerText();
  await page.locator("#at").selectOption({ index: 1 });
  await Promise.all([page.waitForLoadState("load"), page.getByRole("button", { name: "Programmer" }).click()]);
  let status = await page.locator("[role=status]:not(.saved)").first().innerText();
  check(status.includes(`brouillon, prévu pour le ${firstDate}`), `the issue should wait for ${firstDate}: ${status}`);
  const saved = await page.locator("p.notice.saved").innerText();
  check(saved === `Date d'envoi enregistrée : ${firstDate}.`, `the success message names the date: ${saved}`);
  await Promise.all([page.waitForLoadState("load"), page.getByRole("button", { name: "Marquer prêt" }).click()]);
  status = await page.locator("[role=status]:not(.saved)").first().innerText();
  check(status.includes(`prêt, partira le ${firstDate}`), `the issue should be ready for ${firstDate}: ${status}`);
  await page.goto(url("/lettre"));
  check((await page.locator("#next-dates").innerText()).includes(firstDate), "the overview lists the next dates");
  await page.goBack();
  await page.screenshot({ path: path.join(shotDir, "newsletter-issue.png"), fullPage: true });

  step("phone width");
  await page.setViewportSize({ width: 390, height: 844 });
  for (const phonePath of ["/lettre", page.url(), "/abonnes"]) {
    await page.goto(phonePath.startsWith("http") ? phonePath : url(phonePath));
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    check(width <= 390, `${phonePath} is ${width} pixels wide on a 390-pixel phone screen`);
  }

  step("a visitor subscribes");
  const visitorContext = await browser.newContext({ locale: "fr-FR", viewport: { width: 390, height: 844 } });
  page = await visitorContext.newPage();
  watchCsp(page, violations);
  await page.goto(url("/abonnement"));
  await page.getByLabel("Adresse électronique").fill(visitor);
  await page.getByLabel(/J'accepte de recevoir/).check();
  // A person takes a moment; the form refuses what comes sooner.
  await page.waitForTimeout(2500);
  await Promise.all([page.waitForLoadState("load"), page.getByRole("button", { name: "S'abonner" }).click()]);
  const confirmation = await page.locator("[role=status]").innerText();
  check(confirmation.includes(visitor), `the page should say where the confirmation went: ${confirmation}`);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  check(width <= 390, `the subscription page is ${width} pixels wide on a phone`);
  check(violations.length === 0, `content security policy violations:\n  ${violations.join("\n  ")}`);
  console.log("[newsletter] passed");
} catch (error) {
  exitCode = 1;
  console.error(`[newsletter] FAILED at ${page.url()}: ${error instanceof Failure ? error.message : error.stack}`);
  const shot = path.join(shotDir, "newsletter-failure.png");
  try {
    await page.screenshot({ path: shot, fullPage: true });
    console.error(`SCREENSHOT failure ${shot}`);
  } catch (e) {
    console.error(`[newsletter] no screenshot: ${e.message}`);
  }
} finally {
  await browser.close().catch(() => {});
}
process.exit(exitCode);
