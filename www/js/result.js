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
	cancelled: ["cancelled", "other"],
	// Judge mode: a test's verdict, or the request's status after one.
	accepted: ["accepted", "ok"],
	wrong_answer: ["wrong answer", "nonzero"],
	skipped: ["skipped", "other"],
};

// [label, kind] of a status or verdict word.
export function statusLabel(word) {
	return STATUS[word] || [String(word).replace(/_/g, " "), "other"];
}

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
		this.startTimer();
	}

	// The running clock in the message, from now until done().
	startTimer() {
		this.stopTimer();
		this.t0 = performance.now();
		const tick = () => {
			this.message.textContent = "Running for " + this.elapsed() + " s; output appears as it comes.";
		};
		tick();
		this.timer = setInterval(tick, 100);
	}

	stopTimer() {
		clearInterval(this.timer);
		this.timer = 0;
	}

	elapsed() {
		return ((performance.now() - this.t0) / 1000).toFixed(1);
	}

	// A piece of live output ("stdout" or "stderr"), as the stream brings it.
	append(name, text) {
		const s = this.streams[name];
		if (!s || !text)
			return;
		const pane = s.pane;
		const atEnd = pane.scrollTop + pane.clientHeight >= pane.scrollHeight - 4;
		pane.append(text);
		if (atEnd)
			pane.scrollTop = pane.scrollHeight;
	}

	// The compile step's event: its messages before the run's output.
	showCompile(c) {
		this.showCompileOf(c);
	}

	// The user pressed Stop: the partial output stays.
	stopped() {
		const t = this.elapsed();
		this.stopTimer();
		this.setState("run");
		this.setBadge("other", "stopped", "stopped");
		this.message.textContent = "Stopped after " + t + " s: the run was cancelled on the server.";
		for (const s of Object.values(this.streams))
			s.pane.dataset.empty = "(nothing)";
	}

	// On a phone the result is below the editor: bring its head into view.
	reveal() {
		const box = this.badge.getBoundingClientRect();
		if (box.top < 0 || box.bottom > window.innerHeight)
			this.badge.scrollIntoView({ block: "start" });
	}

	done() {
		this.stopTimer();
		this.root.removeAttribute("aria-busy");
	}

	showRun(r) {
		const [label, kind] = statusLabel(r.status);
		const judged = Array.isArray(r.tests);
		this.clearPanes(r.status === "compile_error" ? "(not run: the compile step failed)"
			: judged ? "(judge mode: each test's output is under Tests)" : "(nothing)");
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
		this.showCompileOf(c);

		const lines = [];
		if (judged && r.summary)
			lines.push("Tests: " + summaryText(r.summary));
		else if (r.status !== "compile_error" && r.status !== "exec_failed")
			lines.push("Run: " + usageText(r.usage, r.limits));
		if (c)
			lines.push("Compile: " + usageText(c.usage, c.limits));
		this.usage.textContent = lines.join("\n");
	}

	showCompileOf(c) {
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
	}

	// An answer that is not a run: {http, code, message} from the API, or
	// a local problem ({title, message}).
	showError(e) {
		this.stopTimer();
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

export function summaryText(sum) {
	const n = (k) => (Number.isInteger(sum[k]) ? sum[k] : 0);
	return n("passed") + " passed, " + n("failed") + " failed" +
		(n("skipped") ? ", " + n("skipped") + " skipped" : "");
}
