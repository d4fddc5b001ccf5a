// Drives the staff web app in headless Chromium like a person would: log in, import a spreadsheet through the
// preview, read the dashboard, drag a card to the "Membre" column of the board, and see the dashboard follow.
//
//   node tests/browser/board.mjs <base_url> <email> <password> <csv_path>
//
// Run by tests/browser.rs. Needs `npm ci --prefix tests/browser` (playwright-core) and Debian's chromium
// (/usr/bin/chromium, or $RELAIS_CHROMIUM). Screenshots go to $RELAIS_SCREENSHOTS (default: the CSV's folder).
// Exits 0 when every step passed, 1 with a message (and a screenshot) otherwise.

import { mkdirSync } from "node:fs";
import path from "node:path";
import { Failure, check, launch, watchCsp } from "./chromium.mjs";

const [baseUrl, email, password, csvPath] = process.argv.slice(2);
if (!baseUrl || !email || !password || !csvPath) {
  console.error("usage: node board.mjs <base_url> <email> <password> <csv_path>");
  process.exit(2);
}
const shotDir = process.env.RELAIS_SCREENSHOTS || path.dirname(csvPath);
mkdirSync(shotDir, { recursive: true });
const url = (p) => new URL(p, baseUrl).toString();

const step = (text) => console.log(`[board] ${text}`);

const browser = await launch("board");
const context = await browser.newContext({ locale: "fr-FR", viewport: { width: 1440, height: 900 } });
const page = await context.newPage();
// Records the drag events the board sees, to tell why a drag did not register.
await page.addInitScript(() => {
  window.__drags = [];
  for (const type of ["dragstart", "drop", "dragend"]) {
    document.addEventListener(
      type,
      (ev) => {
        const card = ev.target.closest?.(".card-item");
        const column = ev.target.closest?.(".column");
        window.__drags.push(`${type} card=${card?.id ?? "-"} column=${column?.dataset.stage ?? "-"}`);
      },
      true,
    );
  }
});
const dragLog = async () => (await page.evaluate(() => window.__drags.splice(0))).join(", ") || "no drag event";
page.setDefaultTimeout(10_000);

// Anything the page itself gets wrong is a failure too: uncaught script errors and failed same-origin requests.
const problems = [];
page.on("pageerror", (error) => problems.push(`script error: ${error.message}`));
watchCsp(page, problems);
page.on("console", (message) => {
  if (message.type() === "error") console.log(`[browser console] ${message.text()}`);
});
page.on("response", (response) => {
  if (response.url().startsWith(baseUrl) && response.status() >= 400) {
    problems.push(`${response.request().method()} ${response.url()} answered ${response.status()}`);
  }
});
// Prompts the test expects are recorded here (and dismissed); any other dialog is a problem.
const expectedPrompts = [];
let expectingPrompt = false;
page.on("dialog", (dialog) => {
  if (expectingPrompt && dialog.type() === "prompt") expectedPrompts.push(dialog.message());
  else problems.push(`unexpected dialog: ${dialog.type()} « ${dialog.message()} »`);
  dialog.dismiss().catch(() => {});
});

const text = async (selector) => ((await page.locator(selector).textContent()) ?? "").trim();
const number = async (selector) => {
  const raw = await text(selector);
  const n = Number.parseInt(raw, 10);
  check(Number.isFinite(n), `${selector} should hold a number, found « ${raw} »`);
  return n;
};
const memberRow = '.funnel-row[data-stage="member"] .stage-count';

let exitCode = 0;
try {
  step(`log in as ${email} at ${baseUrl}`);
  await page.goto(url("/login"));
  await page.locator("#email").fill(email);
  await page.locator("#password").fill(password);
  await Promise.all([
    page.waitForURL((u) => !u.pathname.startsWith("/login")),
    page.getByRole("button", { name: "Se connecter" }).click(),
  ]);
  check(
    (await page.locator(".whoami").count()) === 1,
    `after logging in, the page at ${page.url()} should show who is logged in`,
  );

  step(`import ${csvPath}`);
  await page.goto(url("/import"));
  await page.locator("#file").setInputFiles(csvPath);
  await Promise.all([
    page.waitForURL((u) => u.pathname === "/import/preview"),
    page.getByRole("button", { name: "Voir l'aperçu" }).click(),
  ]);
  const summary = await text("#import-summary");
  step(`preview: ${summary}`);
  // « 3 nouvelles cibles » or « nouvelles cibles : 3 », whichever wording the summary uses.
  check(
    /(^|\D)3 nouvelles cibles\b|nouvelles cibles\s*:\s*3(\D|$)/.test(summary),
    `the preview should announce 3 nouvelles cibles, it says « ${summary} »`,
  );
  await page.locator("#confirm-import").click();
  await page.locator("#import-outcome").waitFor();
  step(`outcome: ${await text("#import-outcome")}`);

  step("dashboard before the move");
  await page.goto(url("/"));
  const totalTargets = await number("#total-targets");
  const membersBefore = await number("#total-members");
  const memberRowBefore = await number(memberRow);
  step(`total-targets=${totalTargets} total-members=${membersBefore} member row=${memberRowBefore}`);
  check(totalTargets === 3, `#total-targets should be 3 after the import, found ${totalTargets}`);
  check(membersBefore === 0, `#total-members should be 0 before the move, found ${membersBefore}`);
  check(memberRowBefore === 0, `the member funnel row should count 0 before the move, found ${memberRowBefore}`);

  step("board: move Lyon to Membre");
  await page.goto(url("/board"));
  const card = page.locator(".card-item").filter({ has: page.getByRole("link", { name: "Lyon", exact: true }) });
  check((await card.count()) === 1, `the board should show one card for Lyon, found ${await card.count()}`);
  const id = await card.getAttribute("data-id");
  const memberColumn = page.locator('.column[data-stage="member"]');
  const movedCard = memberColumn.locator(`.card-item[data-id="${id}"]`);
  check((await movedCard.count()) === 0, "Lyon should not start in the member column");
  const countBefore = Number.parseInt(await memberColumn.locator(".count").textContent(), 10);
  const fromColumn = page.locator(".column").filter({ has: page.locator(`.card-item[data-id="${id}"]`) });
  const fromStage = await fromColumn.getAttribute("data-stage");
  const fromCount = async () => Number.parseInt(await page.locator(`.column[data-stage="${fromStage}"] .count`).textContent(), 10);
  const fromBefore = await fromCount();
  const arrived = async (ms) =>
    movedCard
      .waitFor({ timeout: ms })
      .then(() => true)
      .catch(() => false);

  // The board scrolls sideways (main is at most 1400px wide) and a drag breaks if anything scrolls once the
  // mouse is down, so first bring the board to where Lyon's card and some of the member column both show,
  // then drag between points that are visible: no pointer action needs to scroll.
  const dragPoints = async () => {
    const board = page.locator(".board");
    await board.evaluate((el, id) => {
      const member = el.querySelector('.column[data-stage="member"]');
      const from = el.querySelector(`.card-item[data-id="${id}"]`);
      const offset = (node) => node.getBoundingClientRect().left - el.getBoundingClientRect().left + el.scrollLeft;
      // Member column's left edge 120px inside the board's right edge, unless that hides the card.
      const wanted = Math.max(0, offset(member) + 120 - el.clientWidth);
      el.scrollLeft = Math.min(wanted, offset(from) + from.offsetWidth - 60);
    }, id);
    const area = await board.boundingBox();
    const from = await card.locator("small").first().boundingBox();
    const to = await memberColumn.boundingBox();
    const visible = (box) => ({
      left: Math.max(box.x, area.x),
      right: Math.min(box.x + box.width, area.x + area.width),
    });
    const f = visible(from);
    const t = visible(to);
    if (f.right - f.left < 10 || t.right - t.left < 10) return null;
    return {
      source: { x: (f.left + f.right) / 2 - from.x, y: from.height / 2 },
      target: { x: (t.left + t.right) / 2 - to.x, y: 40 },
      page: {
        from: { x: (f.left + f.right) / 2, y: from.y + from.height / 2 },
        to: { x: (t.left + t.right) / 2, y: to.y + 40 },
      },
    };
  };
  const untouched = async (attempt) => {
    const now = await memberColumn.locator(".card-item").count();
    check(now === countBefore, `${attempt} put another card in the member column (${now} cards): ${await dragLog()}`);
  };

  // 1. A real HTML5 drag and drop with locator.dragTo; 2. the same with the mouse by hand; 3. the card's menu.
  let path_used = null;
  const points = await dragPoints();
  check(points, "could not find visible points on Lyon's card and on the member column to drag between");
  // RELAIS_BOARD_MOVE=mouse or =menu skips the earlier ways, to check the fallbacks themselves.
  const first = { drag: 1, mouse: 2, menu: 3 }[process.env.RELAIS_BOARD_MOVE || "drag"] ?? 1;
  if (first <= 1) {
    try {
      await card.locator("small").first().dragTo(memberColumn, {
        sourcePosition: points.source,
        targetPosition: points.target,
        timeout: 5_000,
      });
      if (await arrived(4_000)) path_used = "drag and drop (locator.dragTo)";
      else step(`dragTo did not move the card: ${await dragLog()}`);
    } catch (error) {
      step(`dragTo did not complete: ${error.message.split("\n")[0]}`);
    }
    if (!path_used) await untouched("dragTo");
  }
  if (!path_used && first <= 2) {
    step("trying a drag with mouse down/move/up");
    const again = await dragPoints();
    if (again) {
      const { from, to } = again.page;
      await page.mouse.move(from.x, from.y);
      await page.mouse.down();
      await page.mouse.move(from.x + 10, from.y + 10, { steps: 5 });
      await page.mouse.move(to.x, to.y, { steps: 20 });
      await page.mouse.up();
      if (await arrived(4_000)) path_used = "drag and drop (mouse down/move/up)";
      else step(`the mouse drag did not move the card: ${await dragLog()}`);
    }
    if (!path_used) await untouched("the mouse drag");
  }
  if (!path_used) {
    step("the drag did not register, falling back to the card's menu (keyboard path)");
    await card.locator("select[name=stage]").selectOption("member");
    await card.getByRole("button", { name: "OK" }).click();
    if (await arrived(5_000)) path_used = "card menu (select + OK)";
  }
  check(path_used, "Lyon's card never reached the member column (drag, mouse and menu all failed)");
  step(`moved with: ${path_used}`);
  const menu = await card.locator("select[name=stage]").inputValue();
  check(menu === "member", `after the move, Lyon's card menu should say member, it says ${menu}`);
  const countAfter = Number.parseInt(await memberColumn.locator(".count").textContent(), 10);
  check(countAfter === countBefore + 1, `the member column count should go from ${countBefore} to ${countBefore + 1}, it shows ${countAfter}`);
  const fromAfter = await fromCount();
  check(fromAfter === fromBefore - 1, `the ${fromStage} column count should go from ${fromBefore} to ${fromBefore - 1}, it shows ${fromAfter}`);

  step("declining asks for the reason, naming the target");
  check((await page.locator(".column[data-stage=declined]").count()) === 1, "the board has a declined column");
  expectingPrompt = true;
  // The drop handler's own function, as a drop calls it; dismissing the prompt leaves the card where it is.
  await card.evaluate((element) => moveCard(element, document.querySelector(".column[data-stage=declined]")));
  expectingPrompt = false;
  check(expectedPrompts.length === 1 && expectedPrompts[0].includes("Lyon"), `the decline prompt: ${expectedPrompts}`);
  check((await card.locator("select[name=stage]").inputValue()) === "member", "a dismissed decline moves nothing");

  step("board after reload");
  await page.reload();
  check(
    (await memberColumn.locator(`.card-item[data-id="${id}"]`).count()) === 1,
    "after a reload, Lyon's card should still be in the member column",
  );
  await memberColumn.scrollIntoViewIfNeeded(); // the board scrolls sideways: show where Lyon went
  const boardShot = path.join(shotDir, "board.png");
  await page.screenshot({ path: boardShot, fullPage: true });
  console.log(`SCREENSHOT board ${boardShot}`);

  step("dashboard after the move");
  await page.goto(url("/"));
  const membersAfter = await number("#total-members");
  const memberRowAfter = await number(memberRow);
  step(`total-members=${membersAfter} member row=${memberRowAfter}`);
  check(membersAfter === 1, `#total-members should be 1 after the move, found ${membersAfter}`);
  check(
    memberRowAfter !== memberRowBefore && memberRowAfter === 1,
    `the member funnel row should go from 0 to 1, found ${memberRowAfter}`,
  );
  check((await number("#total-targets")) === 3, "#total-targets should still be 3");
  const dashboardShot = path.join(shotDir, "dashboard.png");
  await page.screenshot({ path: dashboardShot, fullPage: true });
  console.log(`SCREENSHOT dashboard ${dashboardShot}`);

  // Readable on a phone: no page is wider than a 390-pixel screen (wide tables scroll inside their box).
  await page.setViewportSize({ width: 390, height: 844 });
  const firstTarget = await page.evaluate(() => {
    const link = [...document.querySelectorAll("a[href^='/targets/']")].find((a) => /\/targets\/\d+$/.test(a.getAttribute("href")));
    return link ? link.getAttribute("href") : null;
  });
  check(firstTarget !== null, "the dashboard should link to a target");
  for (const phonePath of ["/", "/targets", "/board", firstTarget, "/people", "/organisations", "/import", "/access", "/audit"]) {
    await page.goto(url(phonePath));
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    step(`phone ${phonePath} width=${width}`);
    check(width <= 390, `${phonePath} is ${width} pixels wide on a 390-pixel phone screen`);
  }

  // The list address field's pattern is a valid regular expression for Chromium (which compiles it with
  // the `v` flag): a bad address is refused in the browser, a good one is not.
  await page.setViewportSize({ width: 1366, height: 900 });
  await page.goto(url("/listes"));
  await page.getByText("Nouvelle liste de discussion").click();
  const keyField = page.locator("#list-key");
  await keyField.fill("Échanges du club!");
  check(await keyField.evaluate((input) => input.validity.patternMismatch), "the list address pattern refuses 'Échanges du club!'");
  await keyField.fill("echanges-2027");
  check(await keyField.evaluate((input) => input.validity.valid), "the list address pattern accepts 'echanges-2027'");

  check(problems.length === 0, `the pages reported problems:\n  ${problems.join("\n  ")}`);
  console.log(`[board] ${path_used === "card menu (select + OK)" ? "passed (menu fallback)" : "passed"}: moved with ${path_used}`);
} catch (error) {
  exitCode = 1;
  console.error(`[board] FAILED at ${page.url()}: ${error instanceof Failure ? error.message : error.stack}`);
  if (problems.length) console.error(`[board] problems seen:\n  ${problems.join("\n  ")}`);
  const shot = path.join(shotDir, "failure.png");
  try {
    await page.screenshot({ path: shot, fullPage: true });
    console.error(`SCREENSHOT failure ${shot}`);
  } catch (e) {
    console.error(`[board] no screenshot: ${e.message}`);
  }
} finally {
  await browser.close().catch(() => {});
}
process.exit(exitCode);
