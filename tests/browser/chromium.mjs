// What the browser scripts share: Debian's Chromium started headless with the flags this machine needs
// (its closed network refuses Chromium's background connections), and the failure a step reports.

import { chromium } from "playwright-core";

export const executablePath = process.env.RELAIS_CHROMIUM || "/usr/bin/chromium";

export class Failure extends Error {}

export function check(condition, message) {
  if (!condition) throw new Failure(message);
}

/// Chromium, or the script ends with a message naming `tag`.
export async function launch(tag) {
  return chromium
    .launch({
      executablePath,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    })
    .catch((error) => {
      console.error(`[${tag}] could not start Chromium at ${executablePath} (apt-get install chromium): ${error.message}`);
      process.exit(1);
    });
}

/// Collects into `into` every content security policy violation `page` reports (Chromium logs each one to
/// the console, and the page's `securitypolicyviolation` event sees it): the pages must satisfy relais' own
/// policy, so any violation is a defect.
export function watchCsp(page, into) {
  page.on("console", (message) => {
    if (message.type() === "error" && message.text().includes("Content Security Policy")) {
      into.push(`CSP violation on ${page.url()}: ${message.text()}`);
    }
  });
}
