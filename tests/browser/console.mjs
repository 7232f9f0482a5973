// Drives the sessions console in headless Chromium (Debian's, through playwright-core):
// list, filter, open a transcript, search, change a status. Prints what it saw as JSON for
// tests/test_console.py to judge, and saves a screenshot of each view.
// Usage: node tests/browser/console.mjs <base-url> <token> <screenshot-dir>
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const [base, token, shots] = process.argv.slice(2);
mkdirSync(shots, { recursive: true });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
const seen = {};
try {
  const page = await browser.newPage({ viewport: { width: 1366, height: 800 } });
  page.on("dialog", (dialog) => dialog.accept());
  const rowIds = () =>
    page.$$eval("#rows tr", (rows) => rows.map((r) => r.dataset.id).sort());

  await page.goto(`${base}/console`);
  await page.fill("#token", token);
  await page.click("#use-token");
  await page.waitForSelector("#rows tr");
  seen.listed = await rowIds();
  await page.screenshot({ path: `${shots}/list.png` });

  await page.fill("input[name=user_id]", "ada");
  await page.click("#filters button[type=submit]");
  await page.waitForFunction(() => [...document.querySelectorAll("#rows tr")].length === 2);
  seen.filtered = await rowIds();

  await page.click("#rows tr[data-id='refund-42']");
  await page.waitForSelector("ol.transcript li");
  seen.transcript = await page.$$eval("ol.transcript li", (items) =>
    items.map((li) => ({
      meta: li.querySelector(".meta").textContent,
      folded: li.querySelector("details") !== null && !li.querySelector("details").open,
      compaction: li.classList.contains("compaction"),
      text: li.textContent,
    })),
  );
  seen.counters = await page.textContent(".counters");
  await page.screenshot({ path: `${shots}/session.png`, fullPage: true });

  await page.fill("input[name=q]", "refund");
  await page.click("#search button[type=submit]");
  await page.waitForSelector("#hits .hit");
  seen.hits = await page.$$eval("#hits .hit button", (buttons) => buttons.map((b) => b.textContent));
  await page.screenshot({ path: `${shots}/search.png` });
  await page.click("#hits .hit button");
  await page.waitForSelector("ol.transcript li[style*=outline]");
  seen.openedFromSearch = await page.textContent("#detail h2");

  await page.click("text=Mark completed");
  await page.waitForFunction(() => document.getElementById("status")?.textContent === "completed");
  seen.statusAfter = await page.textContent("#status");
  seen.notice = await page.textContent("#notice");
  await page.screenshot({ path: `${shots}/status.png` });
} finally {
  await browser.close();
}
console.log(JSON.stringify(seen));
