// Talking to runboxd: every call answers {data} or {error}, never throws,
// so the page always has something readable to show.
//
// error: {http, code, message, retryAfter} for an API error (the body is
// {"error": {"code", "message"}}), or {title: "network error", message}
// when no answer came at all.

const BASE = "api/v1/";

function networkError(e) {
	return {
		error: {
			title: "network error",
			message: "Could not reach the runbox service (" + (e.message || e) +
				"). Check that it is running and that you are online, then try again.",
		},
	};
}

async function call(path, init) {
	let resp;
	try {
		resp = await fetch(BASE + path, { cache: "no-store", ...init });
	} catch (e) {
		return networkError(e);
	}
	return answerOf(resp);
}

// A whole JSON answer: {data} for a 2xx JSON body, else {error}.
async function answerOf(resp) {
	let body = null;
	let text = "";
	try {
		text = await resp.text();
		body = JSON.parse(text);
	} catch {
		body = null;
	}
	if (resp.ok && body !== null)
		return { data: body };
	const err = body && body.error && typeof body.error === "object" ? body.error : null;
	if (resp.ok) {
		return { error: { http: resp.status, message: "The server's answer was not valid JSON." } };
	}
	return {
		error: {
			http: resp.status,
			code: err && typeof err.code === "string" ? err.code : "",
			message: err && typeof err.message === "string"
				? sentence(err.message)
				: "The server answered HTTP " + resp.status + " " + (resp.statusText || "") +
				  " without an explanation.",
			retryAfter: resp.headers.get("Retry-After") || "",
		},
	};
}

// API messages are lower-case clauses; shown alone they read better as a
// sentence, unless they start with a field's name ("limits.cpu_time_ms").
function sentence(s) {
	s = s.trim();
	if (!s)
		return s;
	if (!/^[a-z_]+[._]/.test(s))
		s = s[0].toUpperCase() + s.slice(1);
	return /[.!?]$/.test(s) ? s : s + ".";
}

export function getLanguages() {
	return call("languages");
}

export function getHealth() {
	return call("health");
}

export function postRun(request) {
	return call("run", {
		method: "POST",
		headers: { "Content-Type": "application/json" },
		body: JSON.stringify(request),
	});
}

// POST /api/v1/run as a stream (Accept: application/x-ndjson): onEvent gets
// each event object as its line arrives ("compile", "stdout", "stderr",
// "test"); the answer is {data} with the final "result" event (without its
// "event" key, so exactly the non-streamed answer), {error} as call() gives
// it (an error before the stream is the usual JSON answer; an "error"
// event or a stream cut short is one too), or {aborted: true} when signal
// was aborted (the connection is closed, which cancels the run).
export async function streamRun(request, onEvent, signal) {
	let resp;
	try {
		resp = await fetch(BASE + "run", {
			method: "POST",
			cache: "no-store",
			headers: { "Content-Type": "application/json", "Accept": "application/x-ndjson" },
			body: JSON.stringify(request),
			signal,
		});
	} catch (e) {
		return signal && signal.aborted ? { aborted: true } : networkError(e);
	}
	const type = resp.headers.get("Content-Type") || "";
	if (!resp.ok || !type.startsWith("application/x-ndjson"))
		return answerOf(resp); // an error answer, or a server that does not stream
	const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
	let pending = "";
	try {
		for (;;) {
			const { value, done } = await reader.read();
			if (done)
				break;
			pending += value;
			let nl;
			while ((nl = pending.indexOf("\n")) >= 0) {
				const line = pending.slice(0, nl);
				pending = pending.slice(nl + 1);
				if (!line.trim())
					continue;
				const end = eventOf(line, onEvent);
				if (end) {
					reader.cancel().catch(() => {});
					return end;
				}
			}
		}
	} catch (e) {
		return signal && signal.aborted ? { aborted: true } : networkError(e);
	}
	return {
		error: {
			title: "stream cut short",
			message: "The answer ended before the run's result" +
				(pending ? " (in the middle of a line)" : "") + ". Try again.",
		},
	};
}

// One NDJSON line: the stream's answer for "result" and "error", else null
// after handing the event to onEvent.
function eventOf(line, onEvent) {
	let ev;
	try {
		ev = JSON.parse(line);
	} catch {
		return { error: { title: "stream cut short", message: "The server sent a line that is not JSON." } };
	}
	if (!ev || typeof ev !== "object")
		return null;
	const { event, ...rest } = ev;
	if (event === "result")
		return { data: rest };
	if (event === "error") {
		const err = rest.error && typeof rest.error === "object" ? rest.error : {};
		return {
			error: {
				title: "run failed",
				code: typeof err.code === "string" ? err.code : "",
				message: typeof err.message === "string" ? sentence(err.message)
					: "The run failed after it started, without an explanation.",
			},
		};
	}
	onEvent(ev);
	return null;
}
