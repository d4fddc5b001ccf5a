// Opens an archived list post that carries a script, event handlers and a javascript: link in headless
// Chromium, clicks everything, and checks that nothing ran; the quoted passage of a reply is folded.
//
//   node tests/browser/archive.mjs <thread_url>
//
// Run by tests/browser.rs. Exits 0 when nothing ran, 1 with a message (and a screenshot) otherwise.

import path from "node:path";
import { Failure, check, launch } from "./chromium.mjs";

const [threadUrl] = process.argv.slice(2);
if (!threadUrl) {
  console.error("usage: node archive.mjs <thread_url>");
  process.exit(2);
}
const shotDir = process.env.RELAIS_SCREENSHOTS || ".";
const browser = await launch("archive");
const page = await (await browser.newContext({ locale: "fr-FR" })).newPage();
let dialogs = 0;
page.on("dialog", async (dialog) => {
  dialogs += 1;
  await dialog.dismiss();
});
let exitCode = 0;
try {
  await page.goto(threadUrl);
  await page.locator("article").first().waitFor();
  for (const link of await page.locator(".post-body a").all()) {
    await link.click({ timeout: 2000 }).catch(() => {});
  }
  for (const element of await page.locator(".post-body *").all()) {
    await element.hover({ timeout: 500 }).catch(() => {});
  }
  await page.waitForTimeout(300);
  const ran = await page.evaluate(() => window.__pwned);
  check(ran === undefined, `a script of the post ran: ${ran}`);
  check(dialogs === 0, `${dialogs} dialog(s) opened`);
  const html = await page.locator(".post-body").first().innerHTML();
  check(!/<script|onerror|onmouseover|javascript:/i.test(html), `the post's HTML still carries active content: ${html}`);
  check(await page.locator("details summary", { hasText: "Texte cité" }).count() === 1, "the quoted passage is folded");
  await page.screenshot({ path: path.join(shotDir, "archive.png"), fullPage: true });
  console.log("[archive] passed");
} catch (error) {
  exitCode = 1;
  console.error(`[archive] FAILED: ${error instanceof Failure ? error.message : error.stack}`);
} finally {
  await browser.close().catch(() => {});
}
process.exit(exitCode);
