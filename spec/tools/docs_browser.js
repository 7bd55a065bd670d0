#!/usr/bin/env node
// spec/tools/docs_browser.js — loads a speezy page in headless Chromium and prints what it saw
// as one JSON object on stdout, for a Lua spec to assert (spec/api/48_docs_spec.lua).
//
//   node spec/tools/docs_browser.js http://127.0.0.1:PORT/docs
//
// Every request that leaves the loopback interface is aborted and counted: the page must work
// offline, and a count above 0 names what it tried to reach. Facts printed:
//   title               the document's title
//   swaggerRendered     Swagger UI drew its root (.swagger-ui inside #swagger-ui)
//   specRequested       the page asked for /openapi.json
//   specStatus          the HTTP status /openapi.json answered (null: never answered)
//   loadError           the text of Swagger UI's "Failed to load API definition" box, or null
//   operations          "METHOD /path" of every operation the page lists (empty until the
//                       host serves /openapi.json)
//   expanded            how many of them opened when clicked: each is opened, with "Try it
//                       out" pressed, so what only an open operation draws (its icons, its
//                       form) is loaded under the page's policy too
//   requests            every URL the page requested, in order
//   external            the URLs aborted for leaving loopback
//   cspViolations       what the page's Content-Security-Policy refused: each
//                       securitypolicyviolation event ("directive blocked-uri") and each
//                       console message about the policy
//   pageErrors          uncaught exceptions in the page
// Chromium is Debian's (/usr/bin/chromium, `make deps`; CHROMIUM overrides) driven by the
// pinned playwright-core of spec/tools/js. Exits 0 when it printed its facts, 2 otherwise.
"use strict";

const path = require("path");
const { chromium } = require(path.join(__dirname, "js/node_modules/playwright-core"));

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);
// How long to wait for Swagger UI to settle (spec loaded or failed): a bound on a hung page,
// not a measure of anything.
const SETTLE_MS = 20000;

function isLocal(url) {
  let u;
  try {
    u = new URL(url);
  } catch (e) {
    return false;
  }
  if (u.protocol === "data:" || u.protocol === "blob:" || u.protocol === "about:") return true;
  return LOOPBACK.has(u.hostname);
}

async function visit(target) {
  const facts = {
    title: null,
    swaggerRendered: false,
    specRequested: false,
    specStatus: null,
    loadError: null,
    operations: [],
    expanded: 0,
    requests: [],
    external: [],
    cspViolations: [],
    pageErrors: [],
  };
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    // root in a container: Chromium's sandbox needs user namespaces it may not have
    args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update"],
  });
  try {
    const page = await browser.newPage();
    // Recorded in the page from its first script on; read back once it has settled.
    await page.addInitScript(() => {
      window.__cspViolations = [];
      document.addEventListener("securitypolicyviolation", (e) => {
        window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
      });
    });
    await page.route("**/*", (route) => {
      const url = route.request().url();
      if (isLocal(url)) return route.continue();
      facts.external.push(url);
      return route.abort("blockedbyclient");
    });
    page.on("request", (req) => {
      facts.requests.push(req.url());
      if (new URL(req.url()).pathname === "/openapi.json") facts.specRequested = true;
    });
    page.on("response", (res) => {
      if (new URL(res.url()).pathname === "/openapi.json") facts.specStatus = res.status();
    });
    page.on("console", (msg) => {
      if (/Content Security Policy/i.test(msg.text())) facts.cspViolations.push(msg.text());
    });
    page.on("pageerror", (err) => facts.pageErrors.push(String(err && err.message)));

    await page.goto(target, { waitUntil: "load" });
    // Settled: the operations are listed, or Swagger UI says it could not load the document.
    await page
      .waitForFunction(
        () =>
          document.querySelector("#swagger-ui .opblock") ||
          /Failed to load API definition/.test(document.body.innerText),
        null,
        { timeout: SETTLE_MS }
      )
      .catch(() => {});
    const summaries = await page.$$("#swagger-ui .opblock-summary");
    for (const summary of summaries) await summary.click();
    for (const button of await page.$$("#swagger-ui .try-out__btn")) await button.click();
    if (summaries.length > 0) {
      await page
        .waitForFunction(
          (n) => document.querySelectorAll("#swagger-ui .opblock.is-open .opblock-body").length >= n,
          summaries.length,
          { timeout: SETTLE_MS }
        )
        .catch(() => {});
    }
    facts.expanded = (await page.$$("#swagger-ui .opblock.is-open .opblock-body")).length;
    facts.cspViolations.push(...(await page.evaluate(() => window.__cspViolations || [])));
    facts.title = await page.title();
    facts.swaggerRendered = (await page.$("#swagger-ui .swagger-ui")) !== null;
    facts.loadError = await page.evaluate(() => {
      const box = document.querySelector("#swagger-ui .errors-wrapper");
      return box ? box.innerText.trim() : null;
    });
    facts.operations = await page.$$eval("#swagger-ui .opblock-summary", (els) =>
      els.map((el) => {
        const m = el.querySelector(".opblock-summary-method");
        const p = el.querySelector(".opblock-summary-path");
        return `${m ? m.innerText.trim() : "?"} ${p ? p.innerText.trim() : "?"}`;
      })
    );
  } finally {
    await browser.close();
  }
  return facts;
}

const target = process.argv[2];
if (!target) {
  process.stderr.write("usage: docs_browser.js URL\n");
  process.exit(2);
}
visit(target).then(
  (facts) => process.stdout.write(JSON.stringify(facts) + "\n"),
  (err) => {
    process.stderr.write(`docs_browser.js: ${err && err.stack ? err.stack : err}\n`);
    process.exit(2);
  }
);
