// Showing a run's result, an API error or a network failure.  Program
// output may hold anything, so every piece of text goes in through
// textContent; nothing here builds HTML from strings.

import { humanBytes } from "./format.js";

// Every status word of the API: its label and the colour family ("kind")
// of its badge.  An unknown word still shows, in neutral colours.
const STATUS = {
	ok: ["ok", "ok"],
	nonzero_exit: ["nonzero exit", "nonzero"],
	signaled: ["killed by signal", "nonzero"],
	cpu_time_exceeded: ["CPU time limit exceeded", "limit"],
	wall_time_exceeded: ["wall time limit exceeded", "limit"],
	memory_exceeded: ["memory limit exceeded", "limit"],
	output_exceeded: ["output limit exceeded", "limit"],
	file_size_exceeded: ["file size limit exceeded", "limit"],
	compile_error: ["compile error", "compile"],
	exec_failed: ["exec failed", "exec"],
};

// What an HTTP error means to someone at the page, by status code.
const HTTP_TITLE = {
	400: "request refused",
	404: "not found",
	405: "request refused",
	413: "too large",
	500: "server error",
	502: "service unavailable",
	503: "service busy",
	504: "timed out",
};

export class ResultView {
	constructor(root) {
		const $ = (id) => root.querySelector("#" + id);
		this.root = root;
		this.badge = $("badge");
		this.message = $("message");
		this.detail = $("detail");
		this.compile = $("compile");
		this.compileStatus = $("compile-status");
		this.compileOut = $("compile-out");
		this.streams = {
			stdout: { pane: $("stdout"), trunc: $("stdout-trunc") },
			stderr: { pane: $("stderr"), trunc: $("stderr-trunc") },
		};
		this.usage = $("usage");
	}

	// "idle", "running", "run" or "error": what the panes stand for (an
	// error hides them: there is no output to show).
	setState(state) {
		this.root.dataset.state = state;
	}

	setBadge(kind, label, status) {
		this.badge.className = "badge " + kind;
		this.badge.dataset.status = status;
		this.badge.textContent = label;
	}

	clearPanes(emptyText) {
		for (const s of Object.values(this.streams)) {
			s.pane.textContent = "";
			s.pane.dataset.empty = emptyText;
			s.trunc.hidden = true;
		}
		this.compile.hidden = true;
		this.compileOut.textContent = "";
		this.usage.textContent = "";
		this.detail.textContent = "";
	}

	running() {
		this.root.setAttribute("aria-busy", "true");
		this.setState("running");
		this.setBadge("running", "running…", "running");
		this.message.textContent = "Waiting for the server.";
		this.clearPanes("");
	}

	// On a phone the result is below the editor: bring its head into view.
	reveal() {
		const box = this.badge.getBoundingClientRect();
		if (box.top < 0 || box.bottom > window.innerHeight)
			this.badge.scrollIntoView({ block: "start" });
	}

	done() {
		this.root.removeAttribute("aria-busy");
	}

	showRun(r) {
		const [label, kind] = STATUS[r.status] || [String(r.status).replace(/_/g, " "), "other"];
		this.clearPanes(r.status === "compile_error" ? "(not run: the compile step failed)" : "(nothing)");
		this.setState("run");
		this.setBadge(kind, label, r.status);
		this.message.textContent = r.message || "";
		this.detail.textContent = exitDetail(r);

		const outputLimit = r.limits && r.limits.output_bytes;
		for (const name of ["stdout", "stderr"]) {
			const s = this.streams[name];
			s.pane.textContent = r[name] || "";
			s.trunc.hidden = !r[name + "_truncated"];
			s.trunc.textContent = outputLimit
				? "truncated: only the first " + humanBytes(outputLimit) + " are kept"
				: "truncated";
		}

		const c = r.compile;
		if (c && (c.status !== "ok" || c.stdout || c.stderr)) {
			this.compile.hidden = false;
			this.compileStatus.textContent = c.status === "ok"
				? "succeeded, with messages"
				: "failed: " + (c.message || c.status);
			let text = (c.stdout || "") + (c.stderr || "");
			if (c.stdout_truncated || c.stderr_truncated)
				text += "\n[compiler output truncated]";
			this.compileOut.textContent = text;
		}

		const lines = [];
		if (r.status !== "compile_error" && r.status !== "exec_failed")
			lines.push("Run: " + usageText(r.usage, r.limits));
		if (c)
			lines.push("Compile: " + usageText(c.usage, c.limits));
		this.usage.textContent = lines.join("\n");
	}

	// An answer that is not a run: {http, code, message} from the API, or
	// a local problem ({title, message}).
	showError(e) {
		const title = e.title || HTTP_TITLE[e.http] || (e.http >= 500 ? "server error" : "request refused");
		this.setState("error");
		this.setBadge("error", title, e.code || "error");
		this.message.textContent = e.message;
		this.clearPanes("");
		const bits = [];
		if (e.http)
			bits.push("HTTP " + e.http);
		if (e.code)
			bits.push(e.code);
		if (e.retryAfter)
			bits.push("retry in " + e.retryAfter + " s");
		this.detail.textContent = bits.join(" · ");
	}
}

function exitDetail(r) {
	if (r.status === "compile_error" && r.compile)
		return "compiler: " + exitDetail(r.compile);
	if (r.signal && r.exit_code === null)
		return "signal " + r.signal;
	if (r.exit_code !== null && r.exit_code !== undefined)
		return "exit code " + r.exit_code;
	return "";
}

function usageText(u, limits) {
	if (!u)
		return "no usage reported";
	const of = (v, k, fmt) => (limits && limits[k] ? fmt(v) + " of " + fmt(limits[k]) : fmt(v));
	const ms = (v) => v + " ms";
	return [
		"CPU " + of(u.cpu_time_ms, "cpu_time_ms", ms),
		"wall " + of(u.wall_time_ms, "wall_time_ms", ms),
		"peak memory " + of(u.max_rss_bytes, "memory_bytes", humanBytes),
	].join(" · ");
}
