#!/usr/bin/env node
// spec/tools/graphiql_browser.js — loads speezy's /graphiql in headless Chromium, optionally
// runs a query through it, and prints what it saw as one JSON object on stdout, for a Lua
// spec to assert (spec/api/60_graphiql_spec.lua).
//
//   node spec/tools/graphiql_browser.js http://127.0.0.1:PORT/graphiql [QUERY [SCREENSHOT]]
//
// Every request that leaves the loopback interface is aborted and counted: the page must work
// offline. With QUERY, the query editor gets it, the run button is pressed and the response
// pane's text is read once it settles; SCREENSHOT is where the page's picture is saved then.
// Facts printed:
//   title            the document's title
//   rendered         GraphiQL drew its container, query editor and run button
//   editor           the query editor's text once the page settled
//   requests         every URL the page requested, in order
//   graphqlRequests  how many requests went to /graphql (the schema's introspection, the run)
//   external         the URLs aborted for leaving loopback
//   cspViolations    what the page's Content-Security-Policy refused (events and console)
//   pageErrors       uncaught exceptions in the page
//   result           the response pane's text after the run (QUERY only), else null
//   screenshot       the file written (SCREENSHOT only), else null
// Chromium is Debian's (/usr/bin/chromium; CHROMIUM overrides) driven by the pinned
// playwright-core of spec/tools/js. Exits 0 when it printed its facts, 2 otherwise.
"use strict";

const path = require("path");
const { chromium } = require(path.join(__dirname, "js/node_modules/playwright-core"));

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);
// Bounds on a hung page (render, a run's answer), not measures of anything.
const SETTLE_MS = 30000;

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

async function visit(target, query, shot) {
  const facts = {
    title: null,
    rendered: false,
    editor: null,
    requests: [],
    graphqlRequests: 0,
    external: [],
    cspViolations: [],
    pageErrors: [],
    result: null,
    screenshot: null,
  };
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    // root in a container: Chromium's sandbox needs user namespaces it may not have
    args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
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
      if (new URL(req.url()).pathname === "/graphql") facts.graphqlRequests++;
    });
    page.on("console", (msg) => {
      if (/Content Security Policy/i.test(msg.text())) facts.cspViolations.push(msg.text());
    });
    page.on("pageerror", (err) => facts.pageErrors.push(String(err && err.message)));

    await page.goto(target, { waitUntil: "load" });
    await page
      .waitForSelector(".graphiql-container .graphiql-query-editor .CodeMirror", {
        timeout: SETTLE_MS,
      })
      .catch(() => {});
    facts.rendered = await page.evaluate(
      () =>
        !!document.querySelector(".graphiql-container") &&
        !!document.querySelector(".graphiql-query-editor .CodeMirror") &&
        !!document.querySelector(".graphiql-execute-button")
    );
    facts.editor = await page.evaluate(() => {
      const cm = document.querySelector(".graphiql-query-editor .CodeMirror");
      return cm && cm.CodeMirror ? cm.CodeMirror.getValue() : null;
    });
    if (query && facts.rendered) {
      await page.evaluate((q) => {
        document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror.setValue(q);
      }, query);
      await page.click(".graphiql-execute-button");
      // Settled: the response pane shows a JSON object with data or errors.
      await page
        .waitForFunction(
          () => {
            const pane = document.querySelector(".graphiql-response .CodeMirror");
            const text = pane && pane.CodeMirror ? pane.CodeMirror.getValue() : "";
            return /"(data|errors)"/.test(text);
          },
          null,
          { timeout: SETTLE_MS }
        )
        .catch(() => {});
      facts.result = await page.evaluate(() => {
        const pane = document.querySelector(".graphiql-response .CodeMirror");
        return pane && pane.CodeMirror ? pane.CodeMirror.getValue() : null;
      });
    }
    if (shot) {
      await page.screenshot({ path: shot, fullPage: true });
      facts.screenshot = shot;
    }
    facts.cspViolations.push(...(await page.evaluate(() => window.__cspViolations || [])));
    facts.title = await page.title();
  } finally {
    await browser.close();
  }
  return facts;
}

const [target, query, shot] = process.argv.slice(2);
if (!target) {
  process.stderr.write("usage: graphiql_browser.js URL [QUERY [SCREENSHOT]]\n");
  process.exit(2);
}
visit(target, query, shot).then(
  (facts) => process.stdout.write(JSON.stringify(facts) + "\n"),
  (err) => {
    process.stderr.write(`graphiql_browser.js: ${err && err.stack ? err.stack : err}\n`);
    process.exit(2);
  }
);
