// Visits every staff page (the navigation's and one detail page of each kind) and every public page in headless
// Chromium at 1366×768, and on each: runs axe-core (every violation is a failure, listed with its nodes) and
// scans the text a person reads for the codes of relais' domain enums (a stage, a mail kind… shown as its
// code instead of its French name). Also uploads a spreadsheet through the import form to check its preview.
//
//   node tests/browser/pages.mjs <base_url> <email> <password> <plan.json>
//
// plan.json: {"staff": [paths], "public": [paths], "codes": [codes], "spreadsheet": path, "known": [{"page":
// path, "rules": [axe rule ids]}]}, `known` naming violations on pages another part of the work fixes (printed,
// not failed). Run by
// tests/browser.rs, which seeds the data and writes the plan. Exits 0 when every page passed, 1 listing every
// problem (one screenshot per failing page) otherwise.

import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { launch, watchCsp } from "./chromium.mjs";

const [baseUrl, email, password, planPath] = process.argv.slice(2);
if (!baseUrl || !email || !password || !planPath) {
  console.error("usage: node pages.mjs <base_url> <email> <password> <plan.json>");
  process.exit(2);
}
const plan = JSON.parse(readFileSync(planPath, "utf8"));
const axePath = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
const shotDir = process.env.RELAIS_SCREENSHOTS || ".";
mkdirSync(shotDir, { recursive: true });
const url = (p) => new URL(p, baseUrl).toString();
const step = (text) => console.log(`[pages] ${text}`);
const problems = [];

// A code shown as a whole word: not inside another word nor an identifier (`survey_sent`, not `sent` in
// `consent` nor `member` in `membership_id`).
const codePatterns = plan.codes.map((code) => ({
  code,
  pattern: new RegExp(`(^|[^\\p{L}\\p{N}_])${code.replace(/[-]/g, "\\-")}([^\\p{L}\\p{N}_]|$)`, "u"),
}));

async function check(page, where) {
  // axe needs its script in the page; the pages' own policy forbids inline scripts, hence bypassCSP below.
  await page.addScriptTag({ path: axePath });
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const run = await axe.run(document, { resultTypes: ["violations"] });
    return run.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => `${n.target.join(" ")} — ${n.failureSummary.replace(/\s+/g, " ")}`),
    }));
  });
  let failed = false;
  const known = (plan.known || []).find((k) => k.page === where)?.rules || [];
  for (const v of result) {
    if (known.includes(v.id)) {
      console.log(`[pages] known, left to its owner: ${where}: axe ${v.id} ${v.help}`);
      continue;
    }
    failed = true;
    problems.push(`${where}: axe ${v.id} (${v.impact}) ${v.help}\n      ${v.nodes.join("\n      ")}`);
  }
  const text = await page.evaluate(() => document.body.innerText);
  for (const { code, pattern } of codePatterns) {
    const found = text.match(pattern);
    if (found) {
      failed = true;
      const at = found.index;
      const context = text.slice(Math.max(0, at - 60), at + code.length + 60).replace(/\s+/g, " ");
      problems.push(`${where}: shows the code « ${code} »: …${context}…`);
    }
  }
  if (failed) {
    const name = where.replace(/[^a-z0-9]+/gi, "_").replace(/^_|_$/g, "") || "root";
    await page.screenshot({ path: path.join(shotDir, `pages-${name}.png`), fullPage: true });
  }
}

async function visit(page, target) {
  const response = await page.goto(url(target));
  const status = response ? response.status() : 0;
  if (status >= 500 || (status >= 400 && !target.startsWith("/nulle-part"))) {
    problems.push(`${target}: answered ${status}`);
  }
  await check(page, target);
}

const browser = await launch("pages");
const csp = [];
try {
  const context = await browser.newContext({
    locale: "fr-FR",
    viewport: { width: 1366, height: 768 },
    bypassCSP: true,
  });
  const page = await context.newPage();
  watchCsp(page, csp);

  step("public pages, logged out");
  for (const target of plan.public) {
    step(`  ${target}`);
    await visit(page, target);
  }

  step("log in");
  await page.goto(url("/login"));
  await page.locator("#email").fill(email);
  await page.locator("#password").fill(password);
  await Promise.all([
    page.waitForURL((u) => !u.pathname.startsWith("/login")),
    page.getByRole("button", { name: "Se connecter" }).click(),
  ]);

  step("staff pages");
  for (const target of plan.staff) {
    step(`  ${target}`);
    await visit(page, target);
  }

  step("the import preview, through the upload form");
  await page.goto(url("/import"));
  await page.locator("#file").setInputFiles(plan.spreadsheet);
  await Promise.all([
    page.waitForURL((u) => u.pathname === "/import/preview"),
    page.getByRole("button", { name: "Voir l'aperçu" }).click(),
  ]);
  if (page.url().includes("_csrf")) problems.push(`the import preview's address carries the token: ${page.url()}`);
  await check(page, "/import/preview");
} catch (error) {
  problems.push(`the walk stopped: ${error.stack || error}`);
} finally {
  await browser.close();
}

for (const line of csp) problems.push(line);
if (problems.length > 0) {
  console.error(`[pages] ${problems.length} problem(s):\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
step("every page passed");
