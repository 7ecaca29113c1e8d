// Talking to runboxd: every call answers {data} or {error}, never throws,
// so the page always has something readable to show.
//
// error: {http, code, message, retryAfter} for an API error (the body is
// {"error": {"code", "message"}}), or {title: "network error", message}
// when no answer came at all.

const BASE = "api/v1/";

async function call(path, init) {
	let resp;
	try {
		resp = await fetch(BASE + path, { cache: "no-store", ...init });
	} catch (e) {
		return {
			error: {
				title: "network error",
				message: "Could not reach the runbox service (" + (e.message || e) +
					"). Check that it is running and that you are online, then try again.",
			},
		};
	}
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
