// The playground page: wires the editor, the limits panel, the result view
// and the API together, and keeps the work in the URL fragment (Share) and
// in localStorage (reload).
//
// Where the work comes from at load: a share link in the fragment wins,
// then the stored copy, then the first language's sample.  Once the work
// differs from the link the page was opened with, the fragment is dropped
// from the address bar, so a reload shows the latest work and never an old
// link; Share makes a new one.

import * as api from "./api.js";
import { attachEditor, guessIndent } from "./editor.js";
import { LimitsPanel } from "./limits.js";
import { ResultView } from "./result.js";
import { TestsPanel } from "./tests.js";
import { base64ToBytes, CollectedView, FilesPanel, fromBase64Answer, toBase64Request } from "./files.js";
import { cleanLimits, decodeShare, encodeShare, isShareFragment, loadSaved, save, shareText } from "./state.js";

const $ = (id) => document.getElementById(id);
const el = {
	language: $("language"),
	run: $("run"),
	stop: $("stop"),
	share: $("share"),
	sample: $("sample"),
	shareBox: $("share-box"),
	shareUrl: $("share-url"),
	shareNote: $("share-note"),
	code: $("code"),
	stdin: $("stdin"),
	serverInfo: $("server-info"),
};

const page = {
	languages: [],     // GET /api/v1/languages
	languageId: "",
	drafts: {},        // language id -> code, for switching back and forth
	learned: {},       // default limits seen in the effective limits of runs
	serverDefaults: false,
	lastLimits: {},    // the last valid contents of the limits panel
	fragment: "",      // the work the address bar's share link holds (shareText), "" if none
	running: false,
	stop: null,        // the AbortController of the run in flight
};

const editor = attachEditor(el.code, $("gutter"), () => guessIndent(el.code.value, page.languageId));
const limits = new LimitsPanel($("limits"), $("limits-summary"), $("limits-note"), $("limits-reset"));
const view = new ResultView($("result"));
const tests = new TestsPanel($("tests"), () => persistNow());
const files = new FilesPanel($("files"), () => persistNow());
const collected = new CollectedView($("collected"));

function language(id) {
	return page.languages.find((l) => l.id === id);
}

function currentRun() {
	try {
		page.lastLimits = limits.readAll();
	} catch {
		// Half-typed limit: keep the last good ones for storage and links.
	}
	return {
		language: page.languageId, code: el.code.value, stdin: el.stdin.value, limits: page.lastLimits,
		tests: tests.get(), compare: tests.getCompare(), files: files.get(), collect: files.getCollect(),
	};
}

// ---- keeping the work --------------------------------------------------------

let persistTimer = 0;

function persistNow() {
	clearTimeout(persistTimer);
	persistTimer = 0;
	const run = currentRun();
	if (run.language)
		page.drafts[run.language] = run.code;
	save(run, page.drafts, page.learned);
	if (page.fragment && shareText(run) !== page.fragment) {
		history.replaceState(null, "", location.pathname + location.search);
		page.fragment = "";
		el.shareBox.hidden = true;
	}
}

function persistSoon() {
	clearTimeout(persistTimer);
	persistTimer = setTimeout(persistNow, 250);
}

function setWork(run) {
	el.code.value = run.code;
	el.stdin.value = run.stdin;
	limits.set(run.limits);
	page.lastLimits = { ...run.limits };
	tests.set(run.tests || [], run.compare);
	files.set(run.files || [], run.collect);
	if ((run.files && run.files.length) || run.collect)
		files.root.open = true;
	if (run.tests && run.tests.length)
		tests.root.open = true;
	editor.refresh();
}

// Select the run's language, or say why not; the code stays either way.
function selectFor(run) {
	if (language(run.language)) {
		selectLanguage(run.language);
		return "";
	}
	selectLanguage(page.languages[0].id);
	return run.language
		? "The language \u201c" + run.language + "\u201d is not offered here; the code is kept, with " +
		  page.languages[0].name + " selected."
		: "";
}

function selectLanguage(id) {
	page.languageId = id;
	el.language.value = id;
}

async function applyFragment() {
	const shared = await decodeShare(location.hash);
	if (!shared.run)
		return shared.error || "";
	setWork(shared.run);
	page.fragment = shareText(shared.run);
	return selectFor(shared.run);
}

// ---- running ----------------------------------------------------------------------

function setRunning(on) {
	page.running = on;
	el.run.disabled = on || !page.languageId;
	el.run.textContent = on ? "Running\u2026" : "Run";
	el.stop.hidden = !on;
	tests.setBusy(on);
}

// Default limits from the effective limits of a run: those the request
// left to the server.  Only when the server does not publish its defaults.
function learnDefaults(effective, sent) {
	if (page.serverDefaults || !effective)
		return;
	const seen = cleanLimits(effective);
	for (const k of Object.keys(sent))
		delete seen[k];
	Object.assign(page.learned, seen);
	limits.setDefaults(page.learned, null, false);
}

// The limits panel's limits, or null after showing why they are wrong.
function readLimits() {
	try {
		return limits.readAll();
	} catch (e) {
		limits.details.open = true;
		view.showError({ title: "check the limits", message: e.message });
		e.input.focus();
		return null;
	}
}

async function run() {
	if (page.running || !page.languageId)
		return;
	const lim = readLimits();
	if (!lim)
		return;
	const request = { language: page.languageId, code: el.code.value, ...files.request() };
	if (el.stdin.value)
		request.stdin = el.stdin.value;
	if (Object.keys(lim).length)
		request.limits = lim;
	persistNow();

	await execute(request, lim);
}

// Judge mode: every test of the panel in one request, each verdict shown
// as its test ends.
async function runTests() {
	if (page.running || !page.languageId)
		return;
	const lim = readLimits();
	if (!lim)
		return;
	const request = { language: page.languageId, code: el.code.value, ...files.request(), ...tests.request() };
	if (!request.tests.length)
		return;
	if (Object.keys(lim).length)
		request.limits = lim;
	persistNow();

	tests.running();
	const { data, error, aborted } = await execute(request, lim, (ev) => tests.showVerdict(ev.index, ev));
	if (data)
		tests.showResult(data);
	else
		tests.unfinished(aborted ? "stopped" : "not run");
}

// Run a request as a stream: output shows as it comes, Stop hangs up
// (which cancels the run on the server).  onTest gets judge mode's test
// events.
async function execute(request, lim, onTest = () => {}) {
	const stop = new AbortController();
	page.stop = stop;
	setRunning(true);
	view.running();
	collected.clear();
	// Collected files come back as exact bytes only in base64 mode; then
	// every output is base64, decoded here (a character may span events).
	const base64 = Boolean(request.collect);
	if (base64)
		request = toBase64Request(request);
	const decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };
	const plain = (obj) => (base64 ? fromBase64Answer(obj) : obj);
	const onEvent = (ev) => {
		if (ev.event === "stdout" || ev.event === "stderr") {
			const data = typeof ev.data === "string" ? ev.data : "";
			view.append(ev.event, base64 ? decoders[ev.event].decode(base64ToBytes(data), { stream: true }) : data);
		} else if (ev.event === "compile") {
			view.showCompile(plain(ev));
		} else if (ev.event === "test") {
			onTest(plain(ev));
		}
	};
	let answer = await api.streamRun(request, onEvent, stop.signal);
	// The streamed answer's worst case (the outputs twice) may pass the
	// server's answer size where the whole answer alone would not.
	if (answer.error && answer.error.http === 400 && /streamed answer/.test(answer.error.message))
		answer = await api.postRun(request);
	page.stop = null;
	view.done();
	setRunning(false);
	if (base64 && answer.data)
		answer = { data: fromBase64Answer(answer.data) };
	const { data, error, aborted } = answer;
	if (aborted) {
		view.stopped();
		return answer;
	}
	if (error) {
		view.showError(error);
		view.reveal();
		const input = limits.markFromMessage(error.message);
		if (input)
			view.detail.textContent += " \u00b7 see \u201c" + LimitsPanel.labelOf(input) + "\u201d under Limits";
		return answer;
	}
	view.showRun(data);
	collected.show(data.files);
	view.reveal();
	learnDefaults(data.limits, lim);
	persistNow();
	return answer;
}

// ---- sharing ------------------------------------------------------------------------

async function share() {
	const run = currentRun();
	el.shareUrl.value = ""; // no stale link while the new one is deflated
	const fragment = await encodeShare(run);
	history.replaceState(null, "", location.pathname + location.search + fragment);
	page.fragment = shareText(run);
	el.shareUrl.value = location.href;
	el.shareBox.hidden = false;
	el.shareNote.textContent = "";
	el.shareUrl.focus();
	el.shareUrl.select();
	try {
		await navigator.clipboard.writeText(location.href);
		el.shareNote.textContent = "Copied.";
	} catch {
		el.shareNote.textContent = "Press Ctrl+C (\u2318C) to copy.";
	}
}

// ---- start ----------------------------------------------------------------------------

function fillLanguages(list) {
	el.language.textContent = "";
	for (const l of list) {
		const o = document.createElement("option");
		o.value = l.id;
		o.textContent = l.version ? l.name + " " + l.version : l.name;
		el.language.append(o);
	}
	el.language.disabled = false;
	el.sample.disabled = false;
}

function useHealth(h) {
	if (!h)
		return;
	const bits = ["runbox" + (h.version ? " " + h.version : "")];
	if (h.slots)
		bits.push(h.slots + " slots");
	el.serverInfo.textContent = bits.join(", ");
	// Proposed: "limits": {"default": {...}, "max": {...}} in GET /api/v1/health.
	const l = h.limits;
	if (l && typeof l === "object") {
		const defaults = cleanLimits(l.default || l.defaults);
		if (Object.keys(defaults).length) {
			page.serverDefaults = true;
			limits.setDefaults(defaults, cleanLimits(l.max || l.maxima), true);
		}
	}
}

async function start() {
	const saved = loadSaved();
	if (saved) {
		page.drafts = saved.drafts;
		page.learned = saved.learned;
		limits.setDefaults(page.learned, null, false);
	}
	// Show the work at once; the language list follows.
	const hashAtStart = location.hash;
	const shared = await decodeShare(hashAtStart);
	if (shared.run)
		setWork(shared.run);
	else if (saved)
		setWork(saved.run);

	const [langs, health] = await Promise.all([api.getLanguages(), api.getHealth()]);
	useHealth(health.data);
	const list = Array.isArray(langs.data)
		? langs.data.filter((l) => l && typeof l.id === "string" && typeof l.name === "string")
		: [];
	if (!list.length) {
		el.language.firstElementChild.textContent = "No languages";
		view.showError({
			...(langs.error || {}),
			title: "no languages",
			message: langs.error
				? "Could not load the list of languages. " + langs.error.message
				: "The server offers no languages.",
		});
		return;
	}
	page.languages = list;
	fillLanguages(list);

	let notice = shared.error || "";
	if (shared.run) {
		page.fragment = shareText(shared.run);
		notice = selectFor(shared.run);
	} else if (saved) {
		notice = selectFor(saved.run) || notice;
	} else {
		selectLanguage(list[0].id);
		setWork({ code: list[0].sample || "", stdin: "", limits: {} });
	}
	// A link that came while the languages loaded (its hashchange found
	// no languages yet).
	if (location.hash !== hashAtStart && isShareFragment(location.hash))
		notice = (await applyFragment()) || "Loaded the program from the link.";
	if (notice)
		view.message.textContent = notice;
	setRunning(false);
}

el.language.addEventListener("change", () => {
	if (page.languageId)
		page.drafts[page.languageId] = el.code.value;
	const l = language(el.language.value);
	page.languageId = l.id;
	el.code.value = page.drafts[l.id] !== undefined ? page.drafts[l.id] : (l.sample || "");
	editor.refresh();
	persistNow();
});

el.sample.addEventListener("click", () => {
	const l = language(page.languageId);
	if (!l)
		return;
	// Through the editing machinery, so that Ctrl+Z brings the work back.
	el.code.focus();
	el.code.select();
	if (!document.execCommand("insertText", false, l.sample || "")) {
		el.code.value = l.sample || "";
		editor.refresh();
	}
	el.code.setSelectionRange(0, 0);
	el.code.scrollTop = 0;
	persistNow();
});

el.run.addEventListener("click", run);
tests.runButton.addEventListener("click", runTests);
el.stop.addEventListener("click", () => {
	if (page.stop)
		page.stop.abort();
});
el.share.addEventListener("click", share);

document.addEventListener("keydown", (e) => {
	if ((e.ctrlKey || e.metaKey) && e.key === "Enter") {
		e.preventDefault();
		run();
	}
});
document.addEventListener("input", (e) => {
	if (e.target !== el.shareUrl)
		persistSoon();
});
// A reload right after typing still finds the last keystroke.
window.addEventListener("pagehide", () => {
	if (persistTimer)
		persistNow();
});
// A share link pasted into the address bar of an open page.
window.addEventListener("hashchange", async () => {
	if (page.languages.length && isShareFragment(location.hash)) {
		const notice = await applyFragment();
		view.message.textContent = notice || "Loaded the program from the link.";
	}
});

start();
