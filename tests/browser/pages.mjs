// Drive `atom serve` in Debian's headless Chromium through playwright-core:
// load each page, click through a fork and a provenance link, check what is
// shown, save a screenshot of each page.
//
// node pages.mjs URL SCREENSHOT_DIR EXPECTED_JSON
// EXPECTED_JSON: {"fork": "...", "forkSummary": "...", "hostile": "...",
//                 "ancestor": "ATOM-...", "totalTokens": "5,020"}
// Prints "ok: ..." lines; exits 1 with "FAIL: ..." on the first failure.
import { chromium } from "playwright-core";
import { existsSync } from "node:fs";

const [url, shots, expectedJson] = process.argv.slice(2);
const expected = JSON.parse(expectedJson);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
if (!existsSync(executablePath)) {
  console.error(`FAIL: no Chromium at ${executablePath}; install Debian's chromium (apt-get install chromium) or set CHROMIUM`);
  process.exit(1);
}

function check(cond, what) {
  if (!cond) throw new Error(what);
  console.log(`ok: ${what}`);
}

const browser = await chromium.launch({
  executablePath,
  args: ["--no-sandbox", "--disable-gpu"],
});
let failed = false;
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  const shot = (name) => page.screenshot({ path: `${shots}/${name}.png`, fullPage: false });

  // Timeline: atoms listed, hostile text shown as text.
  await page.goto(url);
  check((await page.title()) === "Timeline · atom", "the timeline loads");
  const rows = await page.locator("table.atoms tbody tr").count();
  check(rows > 0, `the timeline lists atoms (${rows})`);
  await page.goto(`${url}?all=1`);
  check(
    (await page.locator("table.atoms").innerText()).includes(expected.hostile),
    "a stored summary with markup is shown as text",
  );
  check((await page.locator("table.atoms b, table.atoms script").count()) === 0, "no stored markup became an element");
  await shot("timeline");

  // Search from the header.
  await page.fill("header input[name=q]", "vsync");
  await page.press("header input[name=q]", "Enter");
  await page.waitForURL(/q=vsync/);
  check((await page.locator("table.atoms").innerText()).includes("Pick vsync"), "search finds an atom");

  // Trail graph, then click the fork's label.
  await page.click("header nav >> text=Trails");
  await page.waitForURL(/\/graph$/);
  check((await page.locator("svg.graph g.node").count()) > 0, "the trail graph draws atoms");
  check((await page.locator("svg.graph .ref.archived").count()) > 0, "the graph labels an archived tip");
  check((await page.locator("svg.graph g.node.rollback").count()) > 0, "the graph marks a rollback");
  check((await page.locator("svg.graph g.node.merge").count()) > 0, "the graph marks a merge");
  await shot("graph");
  await page.click(`svg.graph a.ref.trail:has(text:text-is("${expected.fork}"))`);
  await page.waitForURL(new RegExp(`trail=${expected.fork}`));
  const forkText = await page.locator("main").innerText();
  check(forkText.includes(`Atoms of ${expected.fork}`), "the fork's label opens its timeline");
  check(forkText.includes(expected.forkSummary), "the fork's own atom is listed");

  // One atom, then its provenance, then a provenance link.
  await page.click(`table.atoms tr:has-text("${expected.forkSummary}") a.id`);
  await page.waitForURL(/\/atom\//);
  const atomText = await page.locator("table.fields").innerText();
  check(/signature\s+good/.test(atomText), "the atom's signature is good");
  check(/log\s+leaf/.test(atomText), "the atom is in the transparency log");
  await shot("atom");
  await page.click("a.trace");
  await page.waitForURL(/\/trace\//);
  check((await page.locator("svg.provenance a.pnode").count()) >= 2, "the provenance graph draws the atom and what it built on");
  await shot("trace");
  await page.click(`svg.provenance a.pnode:has(text:text-is("${expected.ancestor}"))`);
  await page.waitForURL(new RegExp(`/trace/${expected.ancestor}$`));
  check((await page.locator("h1").innerText()).includes(expected.ancestor), "a provenance link centers the graph on that atom");

  // Tokens.
  await page.click("header nav >> text=Tokens");
  await page.waitForURL(/\/tokens$/);
  check((await page.locator("#total-tokens").innerText()) === expected.totalTokens, `the dashboard totals ${expected.totalTokens} tokens`);
  check((await page.locator("svg.bars g.bar").count()) > 0, "the dashboard draws bars");
  await shot("tokens");

  // Status: run a verification.
  await page.click("header nav >> text=Status");
  await page.waitForURL(/\/status$/);
  check((await page.locator("pre.note").innerText()).includes("—"), "the status page shows the signed checkpoint");
  await page.click("#run-verify");
  await page.waitForURL(/verify=1/);
  check((await page.locator("#verify.good").count()) === 1, "verification of the current trail passes");
  await shot("status");

  check(errors.length === 0, `no console errors (${errors.join("; ")})`);
} catch (e) {
  console.error(`FAIL: ${e.message}`);
  failed = true;
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
