// End-to-end test of the playground page (www/) in a real browser: Debian's
// /usr/bin/chromium, headless, driven by playwright-core (no downloaded
// browser), against the real service started with conf/run.sh (nginx +
// runboxd) on a free loopback port.
//
//   top_srcdir=. top_builddir=/tmp/b0 tests/browser/check_browser
//
// Every check is independent where it can be (a fresh page); the summary
// line is Check's: "100%: Checks: N, Failures: F, Errors: E".  A failed
// assertion is a failure, anything else (a timeout, a crash) an error.
// Screenshots go to $top_builddir/tests/browser/ for a human to look at.
// Exit 0 when all passed, 1 otherwise, 77 (automake's skip) when the
// machine cannot run the test (not root, no chromium, no runboxd...).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const srcdir = path.resolve(process.env.top_srcdir || path.join(here, "..", ".."));
const builddir = path.resolve(process.env.top_builddir || srcdir);
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const NGINX = process.env.NGINX || "/usr/sbin/nginx";
const SKIP = 77;
const shotDir = path.join(builddir, "tests", "browser");

function skip(why) {
	console.log("SKIP: " + why);
	process.exit(SKIP);
}

function executable(p) {
	try {
		fs.accessSync(p, fs.constants.X_OK);
		return true;
	} catch {
		return false;
	}
}

// ---- prerequisites ---------------------------------------------------------------

function loadPlaywright() {
	// check_browser installs into the source tree when it may write there,
	// else into the build tree (make distcheck's source tree is read-only).
	const dirs = [process.env.RUNBOX_NODE_MODULES, path.join(here, "node_modules"),
		path.join(builddir, "tests", "browser-deps", "node_modules")].filter(Boolean);
	for (const d of dirs) {
		if (fs.existsSync(path.join(d, "playwright-core", "package.json")))
			return createRequire(path.join(d, "..", "package.json"))("playwright-core");
	}
	skip("playwright-core is not installed (npm ci --prefix tests/browser)");
}

if (process.getuid() !== 0)
	skip("runboxd must run as root (it gives each slot its own uid)");
const runboxd = path.join(builddir, "service", "runboxd");
for (const [p, why] of [[runboxd, "is not built"], [CHROMIUM, "is missing (apt-get install chromium)"],
	[NGINX, "is missing"], ["/usr/bin/curl", "is needed by conf/run.sh"]]) {
	if (!executable(p))
		skip(p + " " + why);
}
const { chromium } = loadPlaywright();

// ---- the service -------------------------------------------------------------------

function freePort() {
	return new Promise((resolve, reject) => {
		const s = net.createServer();
		s.on("error", reject);
		s.listen(0, "127.0.0.1", () => {
			const { port } = s.address();
			s.close(() => resolve(port));
		});
	});
}

// conf/run.sh in a process group of its own (detached), so that after a
// failure its whole group can be stopped by that one id.
class Service {
	constructor() {
		this.proc = null;
		this.log = [];
		this.exited = null;
	}

	// The shipped config with a 1 MiB body limit, so that the page can
	// type a body past it quickly.  Removed with the service (stop()).
	config() {
		if (!this.confDir) {
			const shipped = path.join(srcdir, "conf", "runboxd.json");
			const cfg = JSON.parse(fs.readFileSync(shipped, "utf8"));
			cfg.max_body_bytes = 1 << 20;
			cfg.http = { ...(cfg.http || {}), cors_origins: [otherOrigins.listed] };
			cfg.languages_file = path.join(srcdir, "conf", cfg.languages_file);
			this.confDir = fs.mkdtempSync(path.join(os.tmpdir(), "runbox-browser-conf."));
			fs.chmodSync(this.confDir, 0o755);
			fs.writeFileSync(path.join(this.confDir, "runboxd.json"), JSON.stringify(cfg));
		}
		return path.join(this.confDir, "runboxd.json");
	}

	launch(port, metricsPort) {
		this.port = port;
		this.metricsPort = metricsPort;
		this.log = [];
		this.proc = spawn("/bin/sh", [path.join(srcdir, "conf", "run.sh"), "--port", String(port),
			"--metrics-port", String(metricsPort),
			"--builddir", builddir, "--srcdir", srcdir, "--config", this.config()], {
			detached: true,
			stdio: ["ignore", "ignore", "pipe"],
			env: { ...process.env, NGINX },
		});
		this.exited = new Promise((resolve) => this.proc.on("exit", (code, sig) => resolve({ code, sig })));
		let partial = "";
		return new Promise((resolve) => {
			const timer = setTimeout(() => resolve("no 'serving' line within 150 s"), 150000);
			this.proc.stderr.on("data", (chunk) => {
				const lines = (partial + chunk.toString("utf8")).split("\n");
				partial = lines.pop();
				for (const l of lines) {
					this.log.push(l);
					if (l.startsWith("runbox: serving http://")) {
						clearTimeout(timer);
						resolve(null);
					}
				}
			});
			this.exited.then(({ code }) => {
				clearTimeout(timer);
				resolve("run.sh exited with " + code);
			});
		});
	}

	async start() {
		let why = "";
		for (let attempt = 0; attempt < 4; attempt++) {
			why = await this.launch(await freePort(), await freePort());
			if (!why)
				return;
			const clash = this.log.some((l) => /Address already in use|could not bind|nginx did not start/.test(l));
			await this.abort();
			if (!clash)
				break;
		}
		throw new Error("service did not start: " + why + "\n" + this.log.slice(-30).join("\n"));
	}

	get origin() {
		return "http://127.0.0.1:" + this.port;
	}

	async waitExit(ms) {
		return Promise.race([this.exited, new Promise((r) => setTimeout(() => r(null), ms))]);
	}

	signalGroup(sig) {
		try {
			process.kill(-this.proc.pid, sig);
		} catch {
			// already gone
		}
	}

	// SIGTERM to run.sh: it stops nginx and runboxd and removes its files.
	async stop() {
		if (!this.proc)
			return ["the service was never started"];
		const problems = [];
		if (this.proc.exitCode === null && this.proc.signalCode === null)
			this.proc.kill("SIGTERM");
		const end = await this.waitExit(40000);
		if (!end) {
			problems.push("run.sh did not exit within 40 s of SIGTERM");
			await this.abort();
		} else if (end.code !== 0) {
			problems.push("run.sh exited with " + (end.code ?? end.sig));
		}
		await new Promise((r) => setTimeout(r, 50));
		if (!this.log.some((l) => l.includes("runbox: stopped")))
			problems.push("run.sh did not say 'runbox: stopped'");
		this.proc = null;
		if (this.confDir)
			fs.rmSync(this.confDir, { recursive: true, force: true });
		return problems;
	}

	async abort() {
		if (!this.proc)
			return;
		this.proc.kill("SIGTERM");
		if (!(await this.waitExit(5000))) {
			this.signalGroup("SIGTERM");
			if (!(await this.waitExit(30000))) {
				this.signalGroup("SIGKILL");
				await this.waitExit(5000);
			}
		}
		this.proc = null;
	}
}

// ---- checks ----------------------------------------------------------------------------

const results = [];
let currentPage = null;

// RUNBOX_BROWSER_CHECKS=regex runs only the checks whose names match, for
// working on a few; the summary then counts only those.
const only = process.env.RUNBOX_BROWSER_CHECKS ? new RegExp(process.env.RUNBOX_BROWSER_CHECKS) : null;

async function check(name, fn) {
	if (only && !only.test(name) && name !== "the service stops cleanly")
		return;
	const t0 = Date.now();
	try {
		await fn();
		results.push({ name, kind: "pass" });
		console.log("PASS " + name + " (" + (Date.now() - t0) + " ms)");
	} catch (e) {
		const kind = e instanceof assert.AssertionError ? "failure" : "error";
		results.push({ name, kind });
		console.log((kind === "failure" ? "FAIL " : "ERROR ") + name + ": " + (e.stack || e));
		if (currentPage && !currentPage.isClosed()) {
			const shot = path.join(shotDir, "fail-" + name.replace(/[^a-z0-9]+/gi, "-") + ".png");
			await currentPage.screenshot({ path: shot, fullPage: true }).catch(() => {});
			console.log("  screenshot: " + shot);
		}
	}
}

function summary() {
	const n = results.length;
	const failures = results.filter((r) => r.kind === "failure").length;
	const errors = results.filter((r) => r.kind === "error").length;
	const pct = n ? Math.floor((100 * (n - failures - errors)) / n) : 0;
	console.log(pct + "%: Checks: " + n + ", Failures: " + failures + ", Errors: " + errors);
	return failures + errors;
}

// ---- other origins ---------------------------------------------------------------------
//
// Two tiny pages on other loopback ports: "listed" is in the service's
// http.cors_origins, "foreign" is not.  Each page only offers a
// function that calls the API from its own origin.

const otherOrigins = { listed: null, foreign: null };
const otherServers = [];

function startOrigin() {
	const page = "<!doctype html><meta charset=utf-8><title>other origin</title><p>other";
	return new Promise((resolve, reject) => {
		const srv = http.createServer((req, res) => {
			res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
			res.end(page);
		});
		srv.on("error", reject);
		srv.listen(0, "127.0.0.1", () => {
			otherServers.push(srv);
			resolve("http://127.0.0.1:" + srv.address().port);
		});
	});
}

// Runs counted by the service so far (its /metrics listener, on the port
// given to run.sh as --metrics-port).
async function runsSoFar() {
	const text = await (await fetch("http://127.0.0.1:" + svc.metricsPort + "/metrics")).text();
	let n = 0;
	for (const m of text.matchAll(/^runbox_runs_total\{[^}]*\} (\d+)$/gm))
		n += Number(m[1]);
	return n;
}

// The service's GET /api/v1/health, from here (not from a page).
async function health() {
	return (await fetch(svc.origin + "/api/v1/health", { cache: "no-store" })).json();
}

// runbox_runs_total of one status.
async function runsWithStatus(status) {
	const text = await (await fetch("http://127.0.0.1:" + svc.metricsPort + "/metrics")).text();
	let n = 0;
	for (const m of text.matchAll(/^runbox_runs_total\{([^}]*)\} (\d+)$/gm)) {
		if (m[1].includes('status="' + status + '"'))
			n += Number(m[2]);
	}
	return n;
}

// Poll cond() every 50 ms until it is true or ms have passed; whether it was.
async function eventually(cond, ms) {
	const end = Date.now() + ms;
	for (;;) {
		if (await cond())
			return true;
		if (Date.now() > end)
			return false;
		await new Promise((r) => setTimeout(r, 50));
	}
}

// From a page of origin: POST a run with the given Content-Type; what
// the page could see ("blocked" when the browser kept the answer from it).
async function postFrom(origin, contentType) {
	const page = await context.newPage();
	try {
		await page.goto(origin + "/");
		return await page.evaluate(async ({ api, contentType }) => {
			try {
				const r = await fetch(api, {
					method: "POST", headers: { "Content-Type": contentType },
					body: JSON.stringify({ command: ["/bin/echo", "cross"] }),
				});
				return { status: r.status, body: await r.json(),
					 requestId: r.headers.get("X-Request-Id") };
			} catch (e) {
				return { blocked: String(e) };
			}
		}, { api: svc.origin + "/api/v1/run", contentType });
	} finally {
		await page.close();
	}
}

// ---- page helpers ----------------------------------------------------------------------

const svc = new Service();
const requests = [];
const pageErrors = [];
let context = null;

// A new page on url.  The pages share one profile, so the stored work is
// wiped first unless keep is set (a check that tests what reload keeps).
async function openPage(url = svc.origin + "/", { viewport = null, keep = false } = {}) {
	const page = await context.newPage();
	page.setDefaultTimeout(15000);
	page.on("pageerror", (e) => pageErrors.push(e.message));
	if (viewport)
		await page.setViewportSize(viewport);
	if (!keep) {
		await page.goto(svc.origin + "/");
		await page.evaluate(() => localStorage.clear());
		// Away first, so that a url with a fragment is a new load, not a
		// hashchange of the page just opened.
		await page.goto("about:blank");
	}
	await page.goto(url);
	await ready(page);
	currentPage = page;
	return page;
}

async function ready(page) {
	await page.waitForSelector("#language:not([disabled])");
	await page.waitForSelector("#run:not([disabled])");
}

// Run with trigger() and wait until the result is on the page.
async function runWith(page, trigger) {
	await Promise.all([
		page.waitForResponse((r) => r.url().endsWith("/api/v1/run")),
		trigger(),
	]);
	await page.waitForFunction(() => !document.getElementById("result").hasAttribute("aria-busy"));
	return resultOf(page);
}

function run(page) {
	return runWith(page, () => page.click("#run"));
}

async function resultOf(page) {
	return page.evaluate(() => {
		const t = (id) => document.getElementById(id).textContent;
		return {
			status: document.getElementById("badge").dataset.status,
			badge: t("badge"),
			message: t("message"),
			detail: t("detail"),
			stdout: t("stdout"),
			stderr: t("stderr"),
			compileShown: !document.getElementById("compile").hidden,
			compile: t("compile-out"),
			usage: t("usage"),
			stdoutTruncShown: !document.getElementById("stdout-trunc").hidden,
			stdoutTrunc: t("stdout-trunc"),
			resultText: document.getElementById("result").innerText,
		};
	});
}

async function setCode(page, language, code) {
	if (language)
		await page.selectOption("#language", language);
	await page.fill("#code", code);
}

// Add a test to the tests panel and fill it in.
async function addTest(page, { stdin = "", expected = "", args = "" }) {
	if (!(await page.$eval("#tests", (d) => d.open)))
		await page.click("#tests > summary");
	await page.click("#test-add");
	const row = page.locator("#test-list > li").last();
	await row.locator(".test-stdin").fill(stdin);
	await row.locator(".test-expected").fill(expected);
	await row.locator(".test-args").fill(args);
	return row;
}

function testsOf(page) {
	return page.$$eval("#test-list > li", (rows) => rows.map((li) => ({
		name: li.querySelector(".test-name").textContent,
		stdin: li.querySelector(".test-stdin").value,
		expected: li.querySelector(".test-expected").value,
		args: li.querySelector(".test-args").value,
		verdict: li.querySelector(".verdict").dataset.verdict,
		badge: li.querySelector(".verdict").textContent,
		message: li.querySelector(".test-message").textContent,
		stdout: li.querySelector(".test-stdout").textContent,
	})));
}

// Press Share and wait for the link (it is made asynchronously: deflated).
async function shareLink(page) {
	await page.click("#share");
	await page.waitForFunction(() => document.getElementById("share-url").value !== "");
	return page.inputValue("#share-url");
}

async function setLimit(page, id, value) {
	if (!(await page.$eval("#limits", (d) => d.open)))
		await page.click("#limits > summary");
	await page.fill(id, value);
}

function languagesOf(page) {
	return page.$$eval("#language option", (os) => os.map((o) => ({ value: o.value, text: o.textContent })));
}

// ---- the checks --------------------------------------------------------------------------

async function checks() {
	await check("page loads with the languages filled", async () => {
		const page = await openPage();
		assert.equal(await page.title(), "runbox playground");
		const langs = await languagesOf(page);
		const ids = langs.map((l) => l.value);
		for (const id of ["python3", "sh", "c"])
			assert.ok(ids.includes(id), "language " + id + " offered: " + JSON.stringify(langs));
		const py = langs.find((l) => l.value === "python3");
		assert.match(py.text, /^Python \d+\.\d+/, "name and version shown");
		assert.equal(await page.inputValue("#language"), "python3", "first language selected");
		const code = await page.inputValue("#code");
		assert.match(code, /Hello from Python/, "the Python sample is in the editor");
		const gutter = await page.textContent("#gutter");
		assert.equal(gutter.split("\n").length, code.split("\n").length, "one line number per line");
		assert.equal(await page.textContent("#badge"), "not run yet");
		await page.close();
	});

	await check("the Python sample runs: ok and its output", async () => {
		const page = await openPage();
		const r = await run(page);
		assert.equal(r.status, "ok");
		assert.equal(r.badge, "ok");
		assert.match(r.stdout, /^Hello from Python 3\.\d+/);
		assert.equal(r.detail, "exit code 0");
		assert.match(r.usage, /CPU \d+ ms of \d+ ms · wall \d+ ms of \d+ ms · peak memory [\d.]+ (KiB|MiB) of/);
		assert.equal(await page.getAttribute("#stderr", "data-empty"), "(nothing)");
		// The panel now shows the defaults the server applied.
		assert.match(await page.getAttribute("#limit-cpu", "placeholder"), /^\d+$/);
		assert.match(await page.getAttribute("#limit-memory", "placeholder"), /^\d+(\.\d+)?$/);
		await page.screenshot({ path: path.join(shotDir, "playground.png"), fullPage: true });
		await page.close();
	});

	await check("Run is disabled while a run is in flight", async () => {
		const page = await openPage();
		await setCode(page, "python3", "import time\ntime.sleep(1.5)\nprint('slept')\n");
		const done = run(page);
		await page.waitForFunction(() => document.getElementById("run").disabled, null, { timeout: 1000 });
		assert.equal(await page.textContent("#run"), "Running…");
		assert.equal(await page.getAttribute("#badge", "data-status"), "running");
		// A second Ctrl+Enter while busy starts nothing.
		let extra = 0;
		page.on("request", (q) => { if (q.url().endsWith("/api/v1/run")) extra++; });
		await page.keyboard.press("Control+Enter");
		const r = await done;
		assert.equal(r.status, "ok");
		assert.equal(r.stdout, "slept\n");
		assert.equal(extra, 0, "no second run while the first is in flight");
		assert.equal(await page.isEnabled("#run"), true);
		assert.equal(await page.textContent("#run"), "Run");
		await page.close();
	});

	await check("live output: the first line is on the page before the program ends", async () => {
		const page = await openPage();
		await setCode(page, "python3",
			"import time\nprint('first', flush=True)\ntime.sleep(1.5)\nprint('second')\n");
		const t0 = Date.now();
		const done = run(page);
		await page.waitForFunction(() => document.getElementById("stdout").textContent === "first\n",
			null, { timeout: 5000 });
		const seenAfter = Date.now() - t0;
		// Still running: the page has the first line and not the second.
		assert.equal(await page.getAttribute("#badge", "data-status"), "running");
		assert.ok(await page.$eval("#result", (e) => e.hasAttribute("aria-busy")), "the run is in flight");
		assert.ok(seenAfter < 1500, "first line after " + seenAfter + " ms: before the sleep ended");
		const clock = async () => Number((await page.textContent("#message")).match(/Running for (\d+\.\d) s/)[1]);
		const c1 = await clock();
		await page.waitForTimeout(300);
		const c2 = await clock();
		assert.ok(c2 > c1, "the timer runs: " + c1 + " then " + c2);
		assert.equal(await page.isVisible("#stop"), true, "Stop is offered while running");
		await page.screenshot({ path: path.join(shotDir, "playground-live.png"), fullPage: true });
		const r = await done;
		assert.equal(r.status, "ok");
		assert.equal(r.stdout, "first\nsecond\n", "the result's stdout replaces the live one, the same");
		assert.equal(r.detail, "exit code 0");
		assert.match(r.usage, /wall \d+ ms of \d+ ms/);
		assert.equal(await page.isVisible("#stop"), false, "Stop hidden after the run");
		await page.close();
	});

	await check("Stop cancels a sleeping run and frees its slot", async () => {
		const page = await openPage();
		await setCode(page, "python3",
			"import sys, time\nprint('started', flush=True)\nprint('to err', file=sys.stderr, flush=True)\n" +
			"time.sleep(8)\nprint('not reached')\n");
		const cancelledBefore = await runsWithStatus("cancelled");
		await page.click("#run");
		await page.waitForFunction(() => document.getElementById("stderr").textContent === "to err\n",
			null, { timeout: 5000 });
		assert.equal(await page.textContent("#stdout"), "started\n");
		assert.ok((await health()).busy >= 1, "a slot is busy with the run");
		const t0 = Date.now();
		await page.click("#stop");
		await page.waitForFunction(() => document.getElementById("badge").dataset.status === "stopped",
			null, { timeout: 3000 });
		assert.equal(await page.textContent("#badge"), "stopped");
		assert.match(await page.textContent("#message"), /^Stopped after \d+\.\d s: the run was cancelled/);
		assert.equal(await page.textContent("#stdout"), "started\n", "the output so far stays");
		assert.equal(await page.textContent("#stderr"), "to err\n");
		assert.equal(await page.isEnabled("#run"), true, "Run usable again");
		assert.equal(await page.isVisible("#stop"), false);
		assert.ok(await eventually(async () => (await health()).busy === 0, 2000),
			"the slot is free within 2 s of Stop (busy: " + (await health()).busy + ")");
		assert.ok(Date.now() - t0 < 4000, "freed long before the program's 8 s sleep");
		assert.ok(await eventually(async () => (await runsWithStatus("cancelled")) === cancelledBefore + 1, 2000),
			"the service counted the run as cancelled");
		await page.screenshot({ path: path.join(shotDir, "playground-stopped.png"), fullPage: true });
		await page.close();
	});

	await check("tests panel: add, edit, remove, run; verdicts arrive one by one", async () => {
		const page = await openPage();
		// Test 2 passes an argument that changes the sum: wrong answer.
		await setCode(page, "python3",
			"import sys, time\na, b = map(int, sys.stdin.read().split())\n" +
			"print(a + b + sum(int(x) for x in sys.argv[1:]))\ntime.sleep(1)\n");
		assert.equal(await page.isEnabled("#test-run"), false, "nothing to run without tests");
		await addTest(page, { stdin: "1 2\n", expected: "3\n" });
		await addTest(page, { stdin: "2 2\n", expected: "4", args: "10" });
		const third = await addTest(page, { stdin: "removed", expected: "x" });
		assert.equal(await page.textContent("#tests-summary"), "3 tests");
		await third.locator(".test-remove").click();
		assert.equal(await page.textContent("#tests-summary"), "2 tests");
		// Edit the first test after the fact.
		await page.locator("#test-list > li").first().locator(".test-stdin").fill("1 2");
		let sent = null;
		page.on("request", (q) => { if (q.url().endsWith("/api/v1/run")) sent = q.postDataJSON(); });
		await page.click("#test-run");
		// Test 1 ends about a second before test 2: its badge comes first.
		await page.waitForFunction(() => document.querySelector("#test-list > li .verdict").dataset.verdict !== "",
			null, { timeout: 10000 });
		let t = await testsOf(page);
		assert.equal(t[0].verdict, "accepted");
		assert.equal(t[1].verdict, "", "test 2 still running: " + JSON.stringify(t[1]));
		assert.equal(t[1].badge, "waiting");
		assert.ok(await page.$eval("#result", (e) => e.hasAttribute("aria-busy")), "the run is in flight");
		await page.waitForFunction(() => !document.getElementById("result").hasAttribute("aria-busy"),
			null, { timeout: 10000 });
		assert.deepEqual(sent.tests, [{ stdin: "1 2", expected_stdout: "3\n" },
			{ stdin: "2 2\n", expected_stdout: "4", args: ["10"] }]);
		assert.equal(sent.compare, "trailing_whitespace");
		t = await testsOf(page);
		assert.deepEqual(t.map((x) => [x.name, x.verdict, x.badge]),
			[["Test 1", "accepted", "accepted"], ["Test 2", "wrong_answer", "wrong answer"]]);
		assert.equal(t[0].stdout, "3\n");
		assert.equal(t[1].stdout, "14\n", "the argument reached the program");
		assert.match(t[1].message, /^The output differs from the expected output/);
		assert.equal(await page.getAttribute("#test-list > li:nth-child(2) .verdict", "class"), "badge verdict nonzero");
		assert.equal(await page.textContent("#test-total"), "Summary: 1 passed, 1 failed");
		const r = await resultOf(page);
		assert.equal(r.status, "wrong_answer");
		assert.equal(r.badge, "wrong answer");
		assert.match(r.message, /test 2/i);
		assert.match(r.usage, /^Tests: 1 passed, 1 failed/);
		await page.locator("#test-list > li").nth(1).locator(".test-output > summary").click();
		await page.screenshot({ path: path.join(shotDir, "playground-tests.png"), fullPage: true });
		// The tests are kept across a reload.
		await page.reload();
		await ready(page);
		t = await testsOf(page);
		assert.deepEqual(t.map((x) => [x.stdin, x.expected, x.args]), [["1 2", "3\n", ""], ["2 2\n", "4", "10"]]);
		await page.close();
	});

	await check("files: an input file in, text and images collected and drawn", async () => {
		const page = await openPage();
		// A PNG made by hand (zlib, no imaging library), an SVG under a name
		// that does not say so, and a text file; one name that is missing.
		await setCode(page, "python3", String.raw`import struct, zlib
a, b = map(int, open('data.txt').read().split())
print('sum', a + b, '✓', flush=True)
open('report.txt', 'w').write('report: %d ✓\n' % (a + b))
def chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
w, h = 64, 48
raw = b''.join(b'\x00' + bytes(v for x in range(w) for v in (x * 4, y * 5, 128)) for y in range(h))
png = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0))
png += chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b'')
open('plot.png', 'wb').write(png)
open('shape.out', 'w').write('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="30" height="20">'
    '<circle cx="10" cy="10" r="8" fill="teal"/></svg>\n')
`);
		await page.click("#files > summary");
		await page.click("#file-add");
		await page.locator("#file-list > li .file-name").fill("data.txt");
		await page.locator("#file-list > li .file-content").fill("3 4\n");
		await page.fill("#collect", "report.txt plot.png, shape.out missing.txt");
		assert.equal(await page.textContent("#files-summary"), "1 input file, collect 4");
		let sent = null;
		page.on("request", (q) => { if (q.url().endsWith("/api/v1/run")) sent = q.postDataJSON(); });
		const r = await run(page);
		assert.equal(sent.encoding, "base64", "collecting asks for exact bytes");
		assert.deepEqual(sent.collect, ["report.txt", "plot.png", "shape.out", "missing.txt"]);
		assert.equal(Buffer.from(sent.files["data.txt"], "base64").toString(), "3 4\n");
		assert.equal(r.status, "ok", r.message);
		assert.equal(r.stdout, "sum 7 ✓\n", "base64 output decoded as UTF-8");
		// Each image must have loaded (decoded) before its size is read.
		await page.waitForFunction(() => Array.from(document.querySelectorAll("#collected img"))
			.every((i) => i.complete && i.naturalWidth > 0), null, { timeout: 5000 });
		const got = await page.$$eval("#collected-list > figure", (fs) => fs.map((f) => ({
			name: f.dataset.name, kind: f.dataset.kind,
			text: f.querySelector("pre") ? f.querySelector("pre").textContent : null,
			size: f.querySelector("img") ? [f.querySelector("img").naturalWidth, f.querySelector("img").naturalHeight] : null,
			src: f.querySelector("img") ? f.querySelector("img").src : null,
			message: f.querySelector("p") ? f.querySelector("p").textContent : null,
		})));
		assert.deepEqual(got.map((f) => [f.name, f.kind]), [["report.txt", "text"], ["plot.png", "image"],
			["shape.out", "image"], ["missing.txt", "error"]]);
		assert.equal(got[0].text, "report: 7 ✓\n");
		assert.deepEqual(got[1].size, [64, 48], "the PNG was decoded");
		assert.deepEqual(got[2].size, [30, 20], "the SVG was drawn");
		assert.match(got[1].src, /^blob:/);
		assert.ok(got[3].message.length > 0, "the missing file says why");
		await page.screenshot({ path: path.join(shotDir, "playground-files.png"), fullPage: true });
		// The files go in share links too.
		const other = await openPage(await shareLink(page));
		assert.equal(await other.inputValue("#file-list > li .file-name"), "data.txt");
		assert.equal(await other.inputValue("#file-list > li .file-content"), "3 4\n");
		assert.equal(await other.inputValue("#collect"), "report.txt plot.png, shape.out missing.txt");
		await other.close();
		await page.close();
	});

	await check("a matplotlib plot is drawn in the page", async () => {
		const page = await openPage();
		await setCode(page, "python3", String.raw`import numpy as np
import matplotlib.pyplot as plt
x = np.linspace(0, 6.28, 100)
plt.figure(figsize=(4, 3), dpi=60)
plt.plot(x, np.sin(x))
plt.title('sin')
plt.savefig('plot.png')
print('saved')
`);
		await page.click("#files > summary");
		await page.fill("#collect", "plot.png");
		const r = await run(page);
		assert.equal(r.status, "ok", r.message);
		assert.equal(r.stdout, "saved\n");
		await page.waitForFunction(() => Array.from(document.querySelectorAll("#collected img"))
			.some((i) => i.complete && i.naturalWidth > 0), null, { timeout: 5000 });
		const size = await page.$eval("#collected-list > figure[data-name='plot.png'] img",
			(i) => [i.naturalWidth, i.naturalHeight]);
		assert.deepEqual(size, [240, 180], "the plot (4 x 3 inches at 60 dpi) was decoded");
		await page.screenshot({ path: path.join(shotDir, "playground-plot.png"), fullPage: true });
		await page.close();
	});

	await check("stderr and exit 3: nonzero exit badge and both panes", async () => {
		const page = await openPage();
		await setCode(page, "python3",
			"import sys\nprint('to stdout')\nprint('to stderr', file=sys.stderr)\nsys.exit(3)\n");
		const r = await run(page);
		assert.equal(r.status, "nonzero_exit");
		assert.equal(r.badge, "nonzero exit");
		assert.equal(r.detail, "exit code 3");
		assert.match(r.message, /code 3/);
		assert.equal(r.stdout, "to stdout\n");
		assert.equal(r.stderr, "to stderr\n");
		assert.equal(await page.getAttribute("#badge", "class"), "badge nonzero");
		await page.close();
	});

	await check("a compile error in C shows the compiler's message", async () => {
		const page = await openPage();
		await setCode(page, "c", "int main(void)\n{\n\treturn undeclared_thing;\n}\n");
		const r = await run(page);
		assert.equal(r.status, "compile_error");
		assert.equal(r.badge, "compile error");
		assert.ok(r.compileShown, "compile section shown");
		assert.match(r.compile, /error: .undeclared_thing. undeclared/);
		assert.equal(r.stdout, "");
		assert.match(r.detail, /^compiler: exit code \d+/);
		assert.match(r.usage, /^Compile: CPU/);
		await page.close();
	});

	await check("the C sample compiles and runs", async () => {
		const page = await openPage();
		await page.selectOption("#language", "c");
		assert.match(await page.inputValue("#code"), /#include <stdio.h>/, "the C sample replaces the code");
		const r = await run(page);
		assert.equal(r.status, "ok");
		assert.equal(r.stdout, "Hello, world!\n");
		assert.ok(!r.compileShown, "no compiler section when it said nothing");
		assert.match(r.usage, /Run: CPU .*\nCompile: CPU/);
		await page.close();
	});

	await check("stdin reaches the program", async () => {
		const page = await openPage();
		await setCode(page, "python3", "import sys\nprint(sys.stdin.read().upper(), end='')\n");
		await page.fill("#stdin", "hello stdin\nline two\n");
		const r = await run(page);
		assert.equal(r.status, "ok");
		assert.equal(r.stdout, "HELLO STDIN\nLINE TWO\n");
		await page.close();
	});

	await check("an infinite loop with a 500 ms CPU limit: CPU limit exceeded", async () => {
		const page = await openPage();
		await setCode(page, "python3", "while True:\n    pass\n");
		await setLimit(page, "#limit-cpu", "500");
		assert.match(await page.textContent("#limits-summary"), /custom: CPU time 500 ms/);
		const r = await run(page);
		assert.equal(r.status, "cpu_time_exceeded");
		assert.equal(r.badge, "CPU time limit exceeded");
		assert.equal(await page.getAttribute("#badge", "class"), "badge limit");
		assert.match(r.message, /500 ms/);
		assert.match(r.usage, /CPU \d+ ms of 500 ms/);
		await page.close();
	});

	await check("a limit above the maximum: a readable API error", async () => {
		const page = await openPage();
		await setLimit(page, "#limit-cpu", "99999");
		const r = await run(page);
		assert.equal(r.status, "invalid_request");
		assert.equal(r.badge, "request refused");
		assert.match(r.message, /cpu_time_ms/);
		assert.match(r.message, /10000/);
		assert.match(r.detail, /HTTP 400 · invalid_request/);
		assert.match(r.detail, /CPU time/, "points at the field");
		assert.ok(!/[{}]/.test(r.resultText), "no raw JSON: " + r.resultText);
		assert.equal(await page.getAttribute("#limit-cpu", "aria-invalid"), "true");
		await page.close();
	});

	await check("a malformed limit is explained without a request", async () => {
		const page = await openPage();
		await setLimit(page, "#limit-memory", "lots");
		let sent = 0;
		page.on("request", (q) => { if (q.url().endsWith("/api/v1/run")) sent++; });
		await page.click("#run");
		assert.equal(await page.textContent("#badge"), "check the limits");
		assert.match(await page.textContent("#message"), /^Memory: enter a number of MiB greater than 0/);
		assert.equal(await page.evaluate(() => document.activeElement.id), "limit-memory");
		assert.equal(sent, 0);
		await page.close();
	});

	await check("a network failure says so", async () => {
		const page = await openPage();
		await page.route("**/api/v1/run", (route) => route.abort("connectionrefused"));
		await page.click("#run");
		await page.waitForFunction(() => document.getElementById("badge").dataset.status === "error");
		assert.equal(await page.textContent("#badge"), "network error");
		assert.match(await page.textContent("#message"), /Could not reach the runbox service/);
		assert.equal(await page.isEnabled("#run"), true, "Run usable again");
		await page.close();
	});

	await check("busy (503) and too large (413) are readable", async () => {
		const page = await openPage();
		const body = (code, message) => JSON.stringify({ error: { code, message } });
		await page.route("**/api/v1/run", (route) => route.fulfill({
			status: 503, contentType: "application/json", headers: { "Retry-After": "1" },
			body: body("busy", "the execution service is not reachable or overloaded; retry later"),
		}));
		let r = await run(page);
		assert.equal(r.badge, "service busy");
		assert.match(r.message, /overloaded; retry later\.$/);
		assert.equal(r.detail, "HTTP 503 · busy · retry in 1 s");
		await page.unroute("**/api/v1/run");
		// A real 413 from nginx: a body over max_body_bytes (1 MiB in
		// this suite's config, see Service.launch).
		await page.fill("#stdin", "x".repeat(1100 * 1024));
		r = await run(page);
		assert.equal(r.status, "payload_too_large");
		assert.equal(r.badge, "too large");
		assert.match(r.message, /larger than/);
		assert.ok(!/[{}]/.test(r.resultText), "no raw JSON: " + r.resultText);
		await page.close();
	});

	await check("output is shown as text, never as HTML", async () => {
		const page = await openPage();
		const evil = "<b id=\"pwned\">bold</b><img src=x onerror=\"window.pwned=1\"><script>window.pwned=2</script>";
		await setCode(page, "python3", "import sys\nprint(" + JSON.stringify(evil) + ")\n" +
			"print(" + JSON.stringify(evil) + ", file=sys.stderr)\n");
		const r = await run(page);
		assert.equal(r.stdout, evil + "\n");
		assert.equal(r.stderr, evil + "\n");
		assert.equal(await page.$$eval("#result b, #result img, #result script", (e) => e.length), 0);
		assert.equal(await page.evaluate(() => window.pwned), undefined);
		await page.close();
	});

	await check("truncated output is marked", async () => {
		const page = await openPage();
		await setCode(page, "python3", "print('x' * 5000)\n");
		await setLimit(page, "#limit-output", "1");
		const r = await run(page);
		assert.equal(r.status, "output_exceeded");
		assert.equal(r.badge, "output limit exceeded");
		assert.equal(r.stdout.length, 1024);
		assert.ok(r.stdoutTruncShown, "truncation marker shown");
		assert.match(r.stdoutTrunc, /truncated: only the first 1 KiB are kept/);
		await page.close();
	});

	await check("Ctrl+Enter runs from the editor", async () => {
		const page = await openPage();
		await setCode(page, "python3", "print('ran by keyboard')\n");
		await page.focus("#code");
		const r = await runWith(page, () => page.keyboard.press("Control+Enter"));
		assert.equal(r.stdout, "ran by keyboard\n");
		assert.equal(await page.inputValue("#code"), "print('ran by keyboard')\n", "no newline inserted");
		// From the stdin area too, and with Cmd (Meta) as on a Mac.
		await page.focus("#stdin");
		const r2 = await runWith(page, () => page.keyboard.press("Meta+Enter"));
		assert.equal(r2.stdout, "ran by keyboard\n");
		await page.close();
	});

	await check("Tab indents, Enter keeps indentation, Esc then Tab leaves", async () => {
		const page = await openPage();
		await setCode(page, "python3", "");
		await page.focus("#code");
		await page.keyboard.type("for i in range(2):");
		await page.keyboard.press("Enter");
		await page.keyboard.press("Tab");
		await page.keyboard.type("print(i)");
		await page.keyboard.press("Enter");
		await page.keyboard.type("x = i");
		await page.keyboard.press("Shift+Tab");
		assert.equal(await page.inputValue("#code"), "for i in range(2):\n    print(i)\nx = i");
		assert.equal(await page.textContent("#gutter"), "1\n2\n3");
		// Select all and indent every line, then undo it.
		await page.keyboard.press("Control+a");
		await page.keyboard.press("Tab");
		assert.equal(await page.inputValue("#code"), "    for i in range(2):\n        print(i)\n    x = i");
		await page.keyboard.press("Control+z");
		assert.equal(await page.inputValue("#code"), "for i in range(2):\n    print(i)\nx = i", "undo works");
		// C uses tabs, like its sample.
		await page.selectOption("#language", "c");
		await page.focus("#code");
		await page.keyboard.press("Control+End");
		await page.keyboard.press("Tab");
		assert.ok((await page.inputValue("#code")).endsWith("}\n\t"));
		await page.keyboard.press("Escape");
		await page.keyboard.press("Tab");
		assert.equal(await page.evaluate(() => document.activeElement.id), "stdin", "focus moved on");
		await page.close();
	});

	await check("keyboard only: Tab reaches Run, Enter runs", async () => {
		const page = await openPage();
		await page.evaluate(() => document.activeElement && document.activeElement.blur());
		const order = [];
		for (let i = 0; i < 8; i++) {
			await page.keyboard.press("Tab");
			const id = await page.evaluate(() => document.activeElement.id || document.activeElement.tagName);
			order.push(id);
			if (id === "run")
				break;
		}
		assert.equal(order[order.length - 1], "run", "focus order: " + order.join(" → "));
		assert.ok(order.includes("language"), "the language picker is reachable");
		const visible = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
		assert.notEqual(visible, "none", "focus is visible");
		const r = await runWith(page, () => page.keyboard.press("Enter"));
		assert.equal(r.status, "ok");
		// The limits panel opens from the keyboard.
		await page.focus("#limits > summary");
		await page.keyboard.press("Enter");
		assert.equal(await page.$eval("#limits", (d) => d.open), true);
		await page.close();
	});

	await check("a share link reproduces language, code, stdin and limits", async () => {
		const page = await openPage();
		await setCode(page, "sh", "read x\necho \"got $x\"\n");
		await page.fill("#stdin", "shared stdin ✓\n");
		await setLimit(page, "#limit-wall", "3000");
		const url = await shareLink(page);
		assert.ok(url.startsWith(svc.origin + "/#z="), "a deflated link: " + url);
		assert.equal(page.url(), url, "the address bar holds the link");
		assert.equal(await page.evaluate(() => document.activeElement.id), "share-url");
		// Change the work in the first page: the link must not depend on it.
		await setCode(page, "python3", "print('something else')\n");
		await page.waitForFunction(() => location.hash === "", null, { timeout: 3000 });
		const other = await openPage(url, { keep: true });
		assert.equal(await other.inputValue("#language"), "sh");
		assert.equal(await other.inputValue("#code"), "read x\necho \"got $x\"\n");
		assert.equal(await other.inputValue("#stdin"), "shared stdin ✓\n");
		assert.equal(await other.inputValue("#limit-wall"), "3000");
		const r = await run(other);
		assert.equal(r.stdout, "got shared stdin ✓\n");
		assert.match(r.usage, /wall \d+ ms of 3000 ms/);
		await other.close();
		await page.close();
	});

	await check("a share link carries the tests and the compare mode", async () => {
		const page = await openPage();
		await setCode(page, "sh", "read a b\necho $((a * b)) \"$@\"\n");
		await addTest(page, { stdin: "6 7\n", expected: "42" });
		await addTest(page, { stdin: "2 3", expected: "6 x y", args: "x\ny" });
		await addTest(page, { stdin: "1 1", expected: "2" });
		await page.selectOption("#test-compare", "tokens");
		const url = await shareLink(page);
		assert.ok(url.startsWith(svc.origin + "/#z="), "link: " + url);
		// Deflated: shorter than the same JSON in plain base64url.
		const plainLength = Buffer.from(JSON.stringify({ language: "sh", code: "read a b\necho $((a * b)) \"$@\"\n",
			tests: [{ stdin: "6 7\n", expected_stdout: "42" }, { stdin: "2 3", expected_stdout: "6 x y", args: "x\ny" },
				{ stdin: "1 1", expected_stdout: "2" }], compare: "tokens" })).toString("base64url").length;
		const linkLength = url.length - (svc.origin + "/#z=").length;
		assert.ok(linkLength < plainLength, "deflated " + linkLength + " vs plain " + plainLength);
		// A new page with nothing stored opens the link.
		const other = await openPage(url);
		assert.equal(await other.inputValue("#language"), "sh");
		assert.equal(await other.$eval("#tests", (d) => d.open), true, "the tests panel is open");
		const t = await testsOf(other);
		assert.deepEqual(t.map((x) => [x.stdin, x.expected, x.args]),
			[["6 7\n", "42", ""], ["2 3", "6 x y", "x\ny"], ["1 1", "2", ""]]);
		assert.equal(await other.inputValue("#test-compare"), "tokens");
		await other.click("#test-run");
		await other.waitForFunction(() => !document.getElementById("result").hasAttribute("aria-busy"),
			null, { timeout: 15000 });
		assert.deepEqual((await testsOf(other)).map((x) => x.verdict), ["accepted", "accepted", "wrong_answer"]);
		assert.equal(await other.textContent("#test-total"), "Summary: 2 passed, 1 failed");
		await other.screenshot({ path: path.join(shotDir, "playground-shared-tests.png"), fullPage: true });
		await other.close();
		await page.close();
	});

	await check("a link in the first format (#s=, plain base64url JSON) still opens", async () => {
		const old = { language: "sh", code: "echo old ✓\n", stdin: "in", limits: { wall_time_ms: 2500 } };
		const page = await openPage(svc.origin + "/#s=" + Buffer.from(JSON.stringify(old)).toString("base64url"));
		assert.equal(await page.inputValue("#language"), "sh");
		assert.equal(await page.inputValue("#code"), "echo old ✓\n");
		assert.equal(await page.inputValue("#stdin"), "in");
		assert.equal(await page.inputValue("#limit-wall"), "2500");
		assert.deepEqual(await testsOf(page), []);
		await page.close();
	});

	await check("a damaged deflated link says so", async () => {
		const page = await openPage(svc.origin + "/#z=" + Buffer.from("not deflate at all").toString("base64url"));
		assert.match(await page.textContent("#message"), /link is damaged/);
		await page.close();
	});

	await check("a broken share link says so and keeps the stored work", async () => {
		const mine = await openPage();
		await setCode(mine, "sh", "echo mine\n");
		await mine.waitForTimeout(500); // the work is stored 250 ms after the last key
		await mine.close();
		const page = await openPage(svc.origin + "/#s=%%%not-base64", { keep: true });
		assert.match(await page.textContent("#message"), /link is damaged/);
		assert.equal(await page.inputValue("#language"), "sh");
		assert.equal(await page.inputValue("#code"), "echo mine\n");
		await page.close();
	});

	await check("reload keeps the work", async () => {
		const page = await openPage();
		await setCode(page, "sh", "echo reload-me\n");
		await page.fill("#stdin", "kept stdin");
		await setLimit(page, "#limit-processes", "7");
		await page.reload(); // at once: the last keystroke must not be lost
		await ready(page);
		assert.equal(await page.inputValue("#language"), "sh");
		assert.equal(await page.inputValue("#code"), "echo reload-me\n");
		assert.equal(await page.inputValue("#stdin"), "kept stdin");
		assert.equal(await page.inputValue("#limit-processes"), "7");
		// Each language keeps its own draft.
		await page.selectOption("#language", "python3");
		await page.fill("#code", "print('py draft')\n");
		await page.selectOption("#language", "sh");
		assert.equal(await page.inputValue("#code"), "echo reload-me\n");
		await page.selectOption("#language", "python3");
		assert.equal(await page.inputValue("#code"), "print('py draft')\n");
		// The Sample button brings the sample back, and Ctrl+Z the draft.
		await page.click("#sample");
		assert.match(await page.inputValue("#code"), /Hello from Python/);
		await page.keyboard.press("Control+z");
		assert.equal(await page.inputValue("#code"), "print('py draft')\n");
		await page.close();
	});

	await check("phone width (375 px): no horizontal scroll", async () => {
		const page = await openPage(svc.origin + "/", { viewport: { width: 375, height: 812 } });
		await setCode(page, "python3", "print('w' * 400)\nprint('a long line with spaces ' * 20)\n");
		await setLimit(page, "#limit-cpu", "");
		const r = await run(page);
		assert.equal(r.status, "ok");
		const widths = await page.evaluate(() => [document.documentElement.scrollWidth,
			document.documentElement.clientWidth, document.body.scrollWidth]);
		assert.ok(widths[0] <= widths[1] && widths[2] <= widths[1], "scrollWidth/clientWidth: " + widths);
		const font = await page.$eval("#stdout", (e) => parseFloat(getComputedStyle(e).fontSize));
		assert.ok(font >= 12, "readable output font: " + font);
		await page.evaluate(() => window.scrollTo(0, 0));
		await page.screenshot({ path: path.join(shotDir, "playground-phone.png"), fullPage: true });
		await page.close();
	});

	await check("prefers-color-scheme: dark and light", async () => {
		const page = await openPage();
		const lum = () => page.evaluate(() => {
			const m = getComputedStyle(document.body).backgroundColor.match(/\d+(\.\d+)?/g).map(Number);
			return (0.2126 * m[0] + 0.7152 * m[1] + 0.0722 * m[2]) / 255;
		});
		await page.emulateMedia({ colorScheme: "light" });
		assert.ok((await lum()) > 0.8, "light background");
		await page.emulateMedia({ colorScheme: "dark" });
		assert.ok((await lum()) < 0.2, "dark background");
		await setCode(page, "python3", "import sys\nprint('out')\nprint('err', file=sys.stderr)\nsys.exit(3)\n");
		await run(page);
		await page.screenshot({ path: path.join(shotDir, "playground-dark.png"), fullPage: true });
		await page.close();
	});

	await check("screenshots are written", async () => {
		for (const f of ["playground.png", "playground-phone.png", "playground-dark.png",
			"playground-live.png", "playground-stopped.png", "playground-tests.png",
			"playground-shared-tests.png", "playground-files.png"]) {
			const st = fs.statSync(path.join(shotDir, f));
			assert.ok(st.size > 5000, f + " is " + st.size + " bytes");
			console.log("  screenshot: " + path.join(shotDir, f));
		}
	});

	await check("a listed origin may call the API (CORS)", async () => {
		const before = await runsSoFar();
		const r = await postFrom(otherOrigins.listed, "application/json");
		assert.equal(r.blocked, undefined, "blocked: " + r.blocked);
		assert.equal(r.status, 200);
		assert.equal(r.body.stdout, "cross\n");
		assert.match(r.requestId || "", /^[0-9a-f]{32}$/, "X-Request-Id is exposed");
		assert.equal(await runsSoFar(), before + 1);
	});

	await check("an unlisted origin cannot make the browser run code", async () => {
		const before = await runsSoFar();
		// JSON needs a preflight, which gets no CORS answer: nothing is sent.
		const json = await postFrom(otherOrigins.foreign, "application/json");
		assert.ok(json.blocked, "the page read an answer: " + JSON.stringify(json));
		// text/plain needs none: the POST goes out, runboxd refuses it
		// (415, and 403 for the Origin), and the page cannot read it.
		const plain = await postFrom(otherOrigins.foreign, "text/plain");
		assert.ok(plain.blocked, "the page read an answer: " + JSON.stringify(plain));
		assert.equal(await runsSoFar(), before, "a program ran");
	});

	await check("no request leaves 127.0.0.1", async () => {
		assert.ok(requests.length > 10, "requests were recorded");
		const foreign = requests.filter((u) => !u.startsWith(svc.origin + "/") &&
			!u.startsWith(otherOrigins.listed + "/") && !u.startsWith(otherOrigins.foreign + "/") &&
			!/^(data|blob|about):/.test(u));
		assert.deepEqual(foreign, []);
	});

	await check("no script errors in the page", async () => {
		assert.deepEqual(pageErrors, []);
	});
}

// ---- main ------------------------------------------------------------------------------------

async function main() {
	fs.mkdirSync(shotDir, { recursive: true });
	for (const f of fs.readdirSync(shotDir)) {
		if (/^fail-.*\.png$/.test(f))
			fs.rmSync(path.join(shotDir, f)); // from an earlier run
	}
	const profile = fs.mkdtempSync(path.join(os.tmpdir(), "runbox-chromium-"));
	let failed = 0;
	const stopOnSignal = async (sig) => {
		console.log("stopped by " + sig);
		await svc.abort();
		fs.rmSync(profile, { recursive: true, force: true });
		process.exit(1);
	};
	process.on("SIGINT", stopOnSignal);
	process.on("SIGTERM", stopOnSignal);
	const t0 = Date.now();
	try {
		otherOrigins.listed = await startOrigin();
		otherOrigins.foreign = await startOrigin();
		await svc.start();
		console.log("service at " + svc.origin + "/ (" + (Date.now() - t0) + " ms)");
		context = await chromium.launchPersistentContext(profile, {
			executablePath: CHROMIUM,
			headless: true,
			args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
				"--disable-background-networking", "--disable-component-update", "--disable-sync"],
			viewport: { width: 1280, height: 860 },
		});
		context.setDefaultTimeout(15000);
		console.log("chromium up (" + (Date.now() - t0) + " ms)");
		context.on("request", (q) => requests.push(q.url()));
		// Anything not for our service is refused before it leaves (and the
		// check above reports it).
		const ours = (href) => [svc.origin, otherOrigins.listed, otherOrigins.foreign]
			.some((o) => href.startsWith(o + "/"));
		await context.route((url) => !ours(url.href), (route) => route.abort("blockedbyclient"));
		for (const p of context.pages())
			await p.close();
		await checks();
	} catch (e) {
		results.push({ name: "set-up", kind: "error" });
		console.log("ERROR set-up: " + (e.stack || e));
	} finally {
		if (context)
			await context.close().catch(() => {});
		if (svc.proc) {
			await check("the service stops cleanly", async () => {
				assert.deepEqual(await svc.stop(), []);
			});
		}
		fs.rmSync(profile, { recursive: true, force: true });
		for (const srv of otherServers)
			srv.close();
		failed = summary();
	}
	process.exit(failed ? 1 : 0);
}

main();
