// The playground's state outside the page: the share link (URL fragment)
// and the copy kept in localStorage so that a reload keeps the work.
//
// A share link is "#z=" + base64url(deflate-raw(JSON {language, code,
// stdin, limits, tests, compare, files, collect})), UTF-8 throughout; nothing is stored on
// the server.  A browser without CompressionStream("deflate-raw") makes
// "#s=" + base64url(JSON) instead, the first format, which stays readable.
// Limits are kept in the API's own units (ms, bytes, count), so a link
// means the same run whatever the page's input units are.

export const LIMIT_KEYS = ["cpu_time_ms", "wall_time_ms", "memory_bytes", "stack_bytes",
	"processes", "open_files", "file_size_bytes", "output_bytes"];

const STORAGE_KEY = "runbox.playground.v1";
const PLAIN_PREFIX = "#s=";
const DEFLATED_PREFIX = "#z=";
// A deflated link opens to at most this much JSON (a small link must not
// inflate into gigabytes).
const MAX_SHARED_BYTES = 8 << 20;

export function toBase64Url(text) {
	return bytesToBase64Url(new TextEncoder().encode(text));
}

function bytesToBase64Url(bytes) {
	let bin = "";
	// String.fromCharCode takes arguments: go in chunks for large programs.
	for (let i = 0; i < bytes.length; i += 0x8000)
		bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
	return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromBase64Url(text) {
	return new TextDecoder("utf-8", { fatal: true }).decode(base64UrlToBytes(text));
}

function base64UrlToBytes(text) {
	let b64 = text.replace(/-/g, "+").replace(/_/g, "/");
	while (b64.length % 4)
		b64 += "=";
	const bin = atob(b64);
	return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

// The deflate-raw compressor, or null where the browser has none.
function compressor() {
	try {
		return new CompressionStream("deflate-raw");
	} catch {
		return null;
	}
}

async function deflate(bytes, cs) {
	const out = new Response(new Blob([bytes]).stream().pipeThrough(cs));
	return new Uint8Array(await out.arrayBuffer());
}

// Inflated bytes as text, refusing more than MAX_SHARED_BYTES.
async function inflate(bytes) {
	const reader = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate-raw")).getReader();
	const parts = [];
	let total = 0;
	for (;;) {
		const { value, done } = await reader.read();
		if (done)
			break;
		total += value.length;
		if (total > MAX_SHARED_BYTES) {
			reader.cancel().catch(() => {});
			throw new Error("it opens to more than " + (MAX_SHARED_BYTES >> 20) + " MiB");
		}
		parts.push(value);
	}
	const all = new Uint8Array(total);
	let at = 0;
	for (const p of parts) {
		all.set(p, at);
		at += p.length;
	}
	return new TextDecoder("utf-8", { fatal: true }).decode(all);
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

// The files panel's input files: [{name, content}], strings.
function cleanFiles(list) {
	if (!Array.isArray(list))
		return [];
	return list.filter((f) => f && typeof f === "object" && typeof f.name === "string")
		.map((f) => ({ name: f.name, content: typeof f.content === "string" ? f.content : "" }));
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
		files: cleanFiles(obj.files),
		collect: typeof obj.collect === "string" ? obj.collect : "",
	};
}

// The work a link carries, as canonical JSON: equal work, equal text.
export function shareText(run) {
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
	const files = cleanFiles(run.files);
	if (files.length)
		obj.files = files;
	if (run.collect)
		obj.collect = run.collect;
	return JSON.stringify(obj);
}

// The fragment of a link to run: "#z=..." (or "#s=..." without deflate).
export async function encodeShare(run) {
	const text = shareText(run);
	const cs = compressor();
	if (!cs)
		return PLAIN_PREFIX + toBase64Url(text);
	return DEFLATED_PREFIX + bytesToBase64Url(await deflate(new TextEncoder().encode(text), cs));
}

export function isShareFragment(hash) {
	return hash.startsWith(PLAIN_PREFIX) || hash.startsWith(DEFLATED_PREFIX);
}

// {run} or {error: "why"}; an empty or foreign fragment is {run: null}.
export async function decodeShare(hash) {
	if (!isShareFragment(hash))
		return { run: null };
	try {
		const body = hash.slice(PLAIN_PREFIX.length);
		const text = hash.startsWith(DEFLATED_PREFIX) ? await inflate(base64UrlToBytes(body)) : fromBase64Url(body);
		const run = cleanRun(JSON.parse(text));
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
