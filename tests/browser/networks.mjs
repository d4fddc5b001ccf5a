// Drives the "Réseaux" page in headless Chromium: a staff member sees a partner network's follow request and
// accepts it, sees the partner's event (with the partner's name) both on "Réseaux" and in the "Réunions"
// calendar, joins it for the club, relays the partner's article to the newsletter, and marks a meeting
// public after looking at the preview of what partners will receive.
//
//   node tests/browser/networks.mjs <base_url> <email> <password> <meeting_id>
//
// Run by tests/browser.rs. Exits 0 when every step passed, 1 with a message (and a screenshot) otherwise.

import { mkdirSync } from "node:fs";
import path from "node:path";
import { Failure, check, launch, watchCsp } from "./chromium.mjs";

const [baseUrl, email, password, meetingId] = process.argv.slice(2);
if (!baseUrl || !email || !password || !meetingId) {
  console.error("usage: node networks.mjs <base_url> <email> <password> <meeting_id>");
  process.exit(2);
}
const shotDir = process.env.RELAIS_SCREENSHOTS || ".";
mkdirSync(shotDir, { recursive: true });
const url = (p) => new URL(p, baseUrl).toString();
const step = (text) => console.log(`[networks] ${text}`);

const browser = await launch("networks");
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

  step("open Réseaux from the navigation");
  await Promise.all([page.waitForURL((u) => u.pathname === "/reseaux"), page.getByRole("link", { name: "Réseaux" }).click()]);
  const partner = page.locator("#partners tbody tr", { hasText: "Commission CGLU" });
  check(await partner.count() === 1, "the partner is listed");
  check((await partner.innerText()).includes("demande en attente"), "its follow request waits");

  step("accept the follow request");
  await Promise.all([page.waitForLoadState("load"), partner.getByRole("button", { name: "Accepter" }).click()]);
  const notice = await page.locator("[role=status].notice").innerText();
  check(notice.includes("Abonnement accepté"), `the notice: ${notice}`);
  const row = await page.locator("#partners tbody tr", { hasText: "Commission CGLU" }).innerText();
  check(row.includes("oui") && !row.includes("demande en attente"), `the partner follows: ${row}`);
  const sent = await page.locator("#deliveries").innerText();
  check(sent.includes("Abonnement accepté"), `the Accept is in the outbox: ${sent}`);

  step("join the partner's event for the club");
  const event = page.locator("#remote-events li", { hasText: "Commission inclusion sociale" });
  check((await event.innerText()).includes("Commission CGLU"), "the event names its network");
  await event.getByText("Participer pour le club").click();
  await event.getByLabel("Qui participera").fill("Marie Dupont (Ville de Lyon)");
  await Promise.all([page.waitForLoadState("load"), event.getByRole("button", { name: "Envoyer la participation" }).click()]);
  const joined = await page.locator("#remote-events li", { hasText: "Commission inclusion sociale" }).innerText();
  check(joined.includes("participation demandée") && joined.includes("Marie Dupont"), `joined: ${joined}`);

  step("relay the partner's article to the newsletter");
  const article = page.locator("#remote-articles li", { hasText: "Retour d'expérience" });
  await Promise.all([page.waitForLoadState("load"), article.getByRole("button", { name: "Relayer dans la lettre" }).click()]);
  check((await page.locator("#remote-articles").innerText()).includes("Proposé à la lettre"), "the article is marked relayed");
  await page.goto(url("/lettre"));
  check((await page.content()).includes("Retour d'expérience"), "the newsletter has the relayed item");

  step("see the partner's event in the calendar");
  await page.goto(url("/reunions"));
  const calendar = await page.locator("ul.partner-events").innerText();
  check(calendar.includes("Commission inclusion sociale") && calendar.includes("Commission CGLU"), `calendar: ${calendar}`);
  await page.screenshot({ path: path.join(shotDir, "networks-calendar.png"), fullPage: true });

  step("preview a meeting, then make it public");
  await page.goto(url(`/reunions/${meetingId}`));
  const switchForm = page.locator("#meeting-networks .public-switch");
  await Promise.all([page.waitForURL((u) => u.pathname.startsWith("/reseaux/apercu/")), page.locator("#meeting-networks").getByRole("link", { name: "Aperçu" }).click()]);
  const preview = await page.locator("main").innerText();
  check(preview.includes("pas publique") && preview.includes("\"type\": \"Event\""), "the preview shows the Event");
  await page.goBack();
  await Promise.all([page.waitForLoadState("load"), switchForm.getByRole("button", { name: "Rendre public pour les réseaux" }).click()]);
  const status = await page.locator("#meeting-networks").innerText();
  check(status.includes("Public pour les réseaux"), `the meeting is public: ${status}`);

  step("the page at phone width");
  await page.setViewportSize({ width: 390, height: 800 });
  await page.goto(url("/reseaux"));
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `no sideways scrolling at phone width (${overflow}px)`);
  check(violations.length === 0, `no Content-Security-Policy violation: ${violations.join("; ")}`);
  step("done");
} catch (error) {
  exitCode = 1;
  console.error(error instanceof Failure ? error.message : error.stack || String(error));
  await page.screenshot({ path: path.join(shotDir, "networks-failure.png"), fullPage: true }).catch(() => {});
} finally {
  await browser.close();
}
process.exit(exitCode);
