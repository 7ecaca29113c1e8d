// The playground's state outside the page: the share link (URL fragment)
// and the copy kept in localStorage so that a reload keeps the work.
//
// A share link is "#s=" + base64url(JSON {language, code, stdin, limits}),
// UTF-8 throughout; nothing is stored on the server.  Limits are kept in
// the API's own units (ms, bytes, count), so a link means the same run
// whatever the page's input units are.

export const LIMIT_KEYS = ["cpu_time_ms", "wall_time_ms", "memory_bytes", "stack_bytes",
	"processes", "open_files", "file_size_bytes", "output_bytes"];

const STORAGE_KEY = "runbox.playground.v1";
const FRAGMENT_PREFIX = "#s=";

export function toBase64Url(text) {
	const bytes = new TextEncoder().encode(text);
	let bin = "";
	// String.fromCharCode takes arguments: go in chunks for large programs.
	for (let i = 0; i < bytes.length; i += 0x8000)
		bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
	return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromBase64Url(text) {
	let b64 = text.replace(/-/g, "+").replace(/_/g, "/");
	while (b64.length % 4)
		b64 += "=";
	const bin = atob(b64);
	const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
	return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
}

// Only what a run needs, with the right types: a fragment or a stored copy
// comes from outside and may be anything.
export function cleanLimits(obj) {
	const out = {};
	if (obj && typeof obj === "object") {
		for (const k of LIMIT_KEYS) {
			if (Number.isSafeInteger(obj[k]) && obj[k] > 0)
				out[k] = obj[k];
		}
	}
	return out;
}

const COMPARE = ["trailing_whitespace", "exact", "tokens"];

// The tests panel's tests: {stdin, expected_stdout, args}, all strings
// (args one per line; an array, as the API has it, is joined).
export function cleanTests(list) {
	const str = (v) => (typeof v === "string" ? v : "");
	if (!Array.isArray(list))
		return [];
	return list.filter((t) => t && typeof t === "object").map((t) => ({
		stdin: str(t.stdin),
		expected_stdout: str(t.expected_stdout),
		args: Array.isArray(t.args) ? t.args.filter((a) => typeof a === "string").join("\n") : str(t.args),
	}));
}

function cleanRun(obj) {
	if (!obj || typeof obj !== "object")
		return null;
	return {
		language: typeof obj.language === "string" ? obj.language : "",
		code: typeof obj.code === "string" ? obj.code : "",
		stdin: typeof obj.stdin === "string" ? obj.stdin : "",
		limits: cleanLimits(obj.limits),
		tests: cleanTests(obj.tests),
		compare: COMPARE.includes(obj.compare) ? obj.compare : COMPARE[0],
	};
}

export function encodeShare(run) {
	const obj = { language: run.language, code: run.code };
	if (run.stdin)
		obj.stdin = run.stdin;
	// Keys in a fixed order: equal runs give equal links.
	const limits = cleanLimits(run.limits);
	if (Object.keys(limits).length)
		obj.limits = limits;
	const tests = cleanTests(run.tests);
	if (tests.length) {
		obj.tests = tests.map((t) => {
			const o = { stdin: t.stdin };
			if (t.expected_stdout)
				o.expected_stdout = t.expected_stdout;
			if (t.args)
				o.args = t.args;
			return o;
		});
	}
	if (run.compare && run.compare !== COMPARE[0])
		obj.compare = run.compare;
	return FRAGMENT_PREFIX + toBase64Url(JSON.stringify(obj));
}

export function isShareFragment(hash) {
	return hash.startsWith(FRAGMENT_PREFIX);
}

// {run} or {error: "why"}; an empty or foreign fragment is {run: null}.
export function decodeShare(hash) {
	if (!isShareFragment(hash))
		return { run: null };
	try {
		const run = cleanRun(JSON.parse(fromBase64Url(hash.slice(FRAGMENT_PREFIX.length))));
		if (!run)
			throw new Error("not an object");
		return { run };
	} catch (e) {
		return { error: "the link is damaged (" + e.message + "); showing your last work instead" };
	}
}

// The stored copy: the current run plus a draft per language, so that
// switching languages back and forth loses nothing.
export function loadSaved() {
	try {
		const obj = JSON.parse(localStorage.getItem(STORAGE_KEY) || "null");
		const run = cleanRun(obj);
		if (!run)
			return null;
		const drafts = {};
		if (obj.drafts && typeof obj.drafts === "object") {
			for (const [id, code] of Object.entries(obj.drafts)) {
				if (typeof code === "string")
					drafts[id] = code;
			}
		}
		return { run, drafts, learned: cleanLimits(obj.learned) };
	} catch {
		return null; // storage disabled or garbage: start afresh
	}
}

export function save(run, drafts, learned) {
	try {
		localStorage.setItem(STORAGE_KEY, JSON.stringify({ ...run, drafts, learned }));
	} catch {
		// Private mode or quota: the share link still works.
	}
}
