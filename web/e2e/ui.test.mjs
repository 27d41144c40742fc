// Browser tests of the web UI, in Debian's chromium driven by
// playwright-core, against a real `causeway serve` that web/e2e_test.go
// starts with the example incidents loaded. It passes:
//   BASE_URL        the server, e.g. http://127.0.0.1:43121
//   TOKEN           an admin API token
//   XSS_BUNDLE      a .tar.gz of web/testdata/xss-bundle
//   SCREENSHOT_DIR  where to save the incident page, light and dark
//   PROFILE_DIR     an empty directory for chromium's profile
// Run alone: node --test web/e2e/ (with those set).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { chromium } from "playwright-core";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set; web/e2e_test.go sets it`);
  return v;
};
const base = env("BASE_URL");
const token = env("TOKEN");
const TIMEOUT = 30_000;

let browser, page;

before(async () => {
  browser = await chromium.launchPersistentContext(env("PROFILE_DIR"), {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    // Without the background-networking flags chromium keeps calling
    // Google's hosts, which this machine's closed network refuses.
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1440, height: 900 },
    colorScheme: "light",
  });
  // Any injected script that ran would set window.__xss; the CSP's
  // violation reports say what the policy had to block.
  await browser.addInitScript(() => {
    window.__csp = [];
    document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));
  });
  page = browser.pages()[0] || (await browser.newPage());
  page.setDefaultTimeout(TIMEOUT);
  page.on("pageerror", (e) => console.log("page error:", e.message));
});

after(async () => {
  await browser?.close();
});

test("signing in exchanges the token for a session", async () => {
  await page.goto(base + "/");
  assert.match(page.url(), /\/login\?next=/, "an anonymous visitor is sent to sign in");
  await page.fill("#token", "cw_not-a-token");
  await page.click("#login-form button[type=submit]");
  await page.waitForSelector(".login .error");
  assert.match(await page.textContent(".login .error"), /not valid/);

  await page.fill("#token", token);
  await page.click("#login-form button[type=submit]");
  await page.waitForURL(base + "/");
  const cookies = await browser.cookies(base);
  const session = cookies.find((c) => c.name === "causeway_session");
  assert.ok(session, "a session cookie is set");
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, "Strict");
  assert.notEqual(session.value, token, "the cookie is not the token");
  assert.ok(await page.isVisible("text=AIBrix on kind"), "the example incidents are listed");
});

test("the incident page: investigate, timeline, citation with its neighbours", async () => {
  await page.click("a:has-text('AIBrix on kind')");
  await page.waitForSelector("#incident");
  if (!(await page.isVisible("#root-cause"))) {
    await page.click("#investigate-form button[type=submit]");
    // The page follows the investigation's events and reloads when it is done.
    await page.waitForSelector("#root-cause", { timeout: 60_000 });
  }
  assert.match(await page.textContent("#root-cause"), /\S/);
  assert.match(await page.textContent("#answer-verdict"), /\d+\/\d+ citations verified/);

  const tl = await page.waitForSelector("#timeline[data-lanes]");
  const lanes = Number(await tl.getAttribute("data-lanes"));
  assert.ok(lanes >= 10, `one lane per source (and series): ${lanes}`);
  assert.ok(Number(await tl.getAttribute("data-markers")) > 0, "markers for events, terminations, chat");
  assert.ok(Number(await tl.getAttribute("data-cited")) > 0, "the answer's cited lines are marked");
  assert.ok(await page.isVisible(".tl-label[data-source='events/events.json']"));

  // Hovering a log lane shows the time and counts of the bucket under the mouse.
  const label = await page.$(".tl-label[data-lane='bars'][data-lines]");
  const lb = await label.boundingBox();
  const cb = await (await page.$("#timeline canvas")).boundingBox();
  await page.mouse.move(cb.x + cb.width * 0.6, lb.y + lb.height / 2);
  await page.waitForSelector("#tooltip:not([hidden])");
  assert.match(await page.textContent("#tooltip"), /\d\d:\d\d:\d\d–\d\d:\d\d:\d\d .*\d+ lines, \d+ errors, \d+ warnings/s);
  await page.mouse.move(0, 0);

  const cite = await page.$("#answer button.cite.cite-verified");
  const id = await cite.getAttribute("data-line");
  await cite.click();
  await page.waitForSelector("#line-viewer[data-loaded=ok]");
  const hit = await page.$("#line-viewer li.hit");
  assert.equal(await hit.getAttribute("data-line"), id, "the cited line is highlighted");
  assert.ok(await hit.isVisible(), "and scrolled into view");
  const around = await page.$$eval("#line-viewer li[data-line]", (lis) => lis.length);
  assert.ok(around > 1 && around <= 41, `the line with up to 20 neighbours each side: ${around}`);
  await page.keyboard.press("Escape");
  await page.waitForSelector("#line-viewer", { state: "hidden" });
});

test("the chat streams an answer, badges it, and keeps it", async () => {
  const question = "Which node ran out of disk, and what did that break?";
  await page.fill("#chat-form textarea", question);
  await page.click("#chat-form button[type=submit]");
  const answer = await page.waitForSelector("#chat-log li.msg.assistant[data-streamed]", { timeout: 60_000 });
  assert.ok(Number(await answer.getAttribute("data-streamed")) > 0, "the reply arrived in pieces as it was generated");
  const badges = await answer.$$eval(".cite .badge", (bs) => bs.map((b) => b.textContent));
  assert.ok(badges.length > 0, "its citations are shown");
  assert.ok(badges.includes("verified"), `with verdict badges: ${badges}`);
  assert.match(await answer.textContent(".verdict"), /citations verified/);

  await page.reload();
  await page.waitForSelector("#chat-log[data-loaded]");
  const users = await page.$$eval("#chat-log li.msg.user .content", (els) => els.map((e) => e.textContent));
  assert.ok(users.includes(question), "the question is stored");
  const kept = await page.$$eval("#chat-log li.msg.assistant .cite .badge", (bs) => bs.length);
  assert.ok(kept > 0, "and the badged answer with it");
});

test("the packed context shows tokens per source, folds and the digest", async () => {
  await page.click("#pack summary");
  await page.waitForSelector("#pack-body[data-loaded]");
  const rows = await page.$$eval("#pack-body tr[data-source]", (trs) => trs.length);
  assert.ok(rows > 5, `tokens per source: ${rows} rows`);
  assert.match(await page.textContent("#pack-digest"), /\S/);
  assert.match(await page.textContent("#pack-body .pack-stats"), /tokens/);
  await page.click("#pack summary");
});

test("the answer can be marked correct, and stays marked", async () => {
  await page.click("#feedback-correct");
  await page.waitForSelector("#feedback[data-verdict=correct]");
  assert.match(await page.textContent("#feedback-state"), /Marked correct by e2e/);
  await page.reload();
  await page.waitForSelector("#similar[data-loaded]");
  assert.match(await page.textContent("#feedback-state"), /Marked correct by e2e/, "the stored verdict is shown after a reload");
  assert.equal(await page.getAttribute("#feedback-correct", "aria-pressed"), "true");
  const items = await page.$$eval("#similar-list li.similar-item .similar-title", (els) => els.map((e) => e.textContent));
  assert.equal(items.length, Number(await page.getAttribute("#similar", "data-loaded")), `similar items listed: ${items}`);
});

test("screenshots of the incident page, light and dark", async () => {
  const dir = env("SCREENSHOT_DIR");
  await page.evaluate(() => window.scrollTo(0, 0));
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.evaluate(() => document.fonts.ready);
    await page.waitForTimeout(200); // the timeline redraws on the scheme change
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const dark = bg.match(/\d+/g).slice(0, 3).reduce((a, b) => a + Number(b), 0) < 200;
    assert.equal(dark, scheme === "dark", `prefers-color-scheme ${scheme} gives a ${scheme} page (${bg})`);
    await page.screenshot({ path: path.join(dir, `incident-${scheme}.png`) });
  }
  await page.emulateMedia({ colorScheme: "light" });
});

test("an incident from a window and sources lists its source errors", async () => {
  await page.goto(base + "/");
  await page.fill("#scope-form input[name=title]", "checkout 502s from the UI");
  await page.fill("#scope-form input[name=start]", "2025-08-21T03:00:00");
  await page.fill("#scope-form input[name=end]", "2025-08-21T04:00:00");
  await page.fill("#scope-form textarea[name=question]", "Why is checkout returning 502?");
  await page.selectOption("#scope-sources .scope-row select", "k8s");
  await page.fill("#scope-sources .scope-row input", "shop, payments");
  await page.click("#scope-form button[type=submit]");
  await page.waitForURL(/\/incidents\/\d+$/);
  assert.match(await page.textContent("h1"), /checkout 502s from the UI/);
  // There is no cluster here: the source fails, and says why.
  await page.waitForSelector("#latest-status.status-failed", { timeout: 60_000 });
  await page.goto(base + "/");
  const row = page.locator("tr", { hasText: "checkout 502s from the UI" });
  assert.match(await row.textContent(), /2025-08-21 03:00–04:00Z/);
  await row.locator(".source-errors summary").click();
  assert.match(await row.locator(".source-errors").textContent(), /collect\/k8s: \S/);
  assert.match(await row.locator(".status").textContent(), /failed/);
});

test("evidence and chat messages with markup stay text", async () => {
  await page.goto(base + "/");
  await page.setInputFiles("#bundle-file", env("XSS_BUNDLE"));
  await page.click("#upload-form button[type=submit]");
  await page.waitForURL(/\/incidents\/\d+$/);
  await page.waitForSelector("#root-cause", { timeout: 60_000 }); // investigated at once, then reloaded
  await page.waitForSelector("#timeline[data-lanes]");

  const payload = "<script>window.__xss='chat-msg'</script> <img src=x onerror=\"window.__xss='chat-msg-img'\"> javascript:window.__xss='chat-msg-js'";
  await page.fill("#chat-form textarea", payload);
  await page.click("#chat-form button[type=submit]");
  await page.waitForSelector("#chat-log li.msg.assistant[data-streamed]", { timeout: 60_000 });

  // Open an evidence line with markup in the viewer, as a citation would.
  await page.evaluate(() => {
    const b = document.createElement("button");
    b.className = "cite";
    b.dataset.line = "L4";
    document.body.append(b);
    b.click();
  });
  await page.waitForSelector("#line-viewer[data-loaded=ok]");
  const viewer = await page.evaluate(() => document.getElementById("line-viewer").innerText);
  for (const literal of [
    "<script>window.__xss='log-script'</script>",
    String.raw`<img src=x onerror=\"window.__xss='log-img'\">`, // quotes escaped in the log file itself
    String.raw`<a href=\"javascript:window.__xss='log-a'\">retry</a>`,
    "\"><svg onload=window.__xss='log-svg'>",
  ]) {
    assert.ok(viewer.includes(literal), `the line viewer shows literally: ${literal}`);
  }
  await page.keyboard.press("Escape");

  // Hover every marker's spot on the timeline, so that tooltips render chat text.
  const cb = await (await page.$("#timeline canvas")).boundingBox();
  for (let x = 0; x < cb.width; x += 6) await page.mouse.move(cb.x + x, cb.y + 10);

  const text = await page.evaluate(() => document.body.innerText);
  for (const literal of [
    "<script>window.__xss='title2'</script>", // the incident's title
    payload.slice(0, 40), // the chat message
  ]) {
    assert.ok(text.includes(literal), `shown literally: ${literal}`);
  }
  await page.reload();
  await page.waitForSelector("#chat-log[data-loaded]");
  const stored = await page.$$eval("#chat-log li.msg.user .content", (els) => els.map((e) => e.textContent));
  assert.ok(stored.includes(payload), "the stored message reads as it was typed");

  const ran = await page.evaluate(() => window.__xss);
  assert.equal(ran, undefined, `no injected script ran (window.__xss = ${ran})`);
  const injected = await page.evaluate(() => document.querySelectorAll("img, svg, iframe, script:not([src]), [onerror], [onload], a[href^='javascript']").length);
  assert.equal(injected, 0, "no element came from evidence");
  const csp = await page.evaluate(() => window.__csp);
  assert.deepEqual(csp, [], "nothing even reached the Content-Security-Policy");
});
