// The tests panel: judge mode's tests (stdin, expected output, arguments),
// edited in the page, sent as the request's "tests", and each test's
// verdict shown on its row as the stream's "test" event for it arrives.
//
// A test here is {stdin, expected_stdout, args} with strings throughout;
// args is one argument per line (an argument may be empty, or hold spaces,
// so no quoting rules are needed).  An empty expected output means "not
// checked": the test is accepted when the program exits 0.

import { statusLabel, summaryText } from "./result.js";

export class TestsPanel {
	// onChange: a test was added or removed (typing is an input event).
	constructor(root, onChange) {
		const $ = (id) => root.querySelector("#" + id);
		this.root = root;
		this.list = $("test-list");
		this.summary = $("tests-summary");
		this.total = $("test-total");
		this.compare = $("test-compare");
		this.runButton = $("test-run");
		this.onChange = onChange;
		$("test-add").addEventListener("click", () => {
			this.add({ stdin: "", expected_stdout: "", args: "" });
			this.root.open = true;
			this.rows()[this.rows().length - 1].querySelector(".test-stdin").focus();
			this.changed();
		});
		root.addEventListener("input", () => this.refreshSummary());
	}

	rows() {
		return Array.from(this.list.children);
	}

	changed() {
		this.renumber();
		this.refreshSummary();
		this.onChange();
	}

	// The tests as the page keeps them (storage, links).
	get() {
		return this.rows().map((li) => ({
			stdin: li.querySelector(".test-stdin").value,
			expected_stdout: li.querySelector(".test-expected").value,
			args: li.querySelector(".test-args").value,
		}));
	}

	getCompare() {
		return this.compare.value;
	}

	set(tests, compare) {
		this.list.textContent = "";
		for (const t of tests)
			this.add(t);
		this.compare.value = compare || "trailing_whitespace";
		if (!this.compare.value)
			this.compare.value = "trailing_whitespace";
		this.renumber();
		this.refreshSummary();
	}

	// The request's "tests" and "compare".
	request() {
		const tests = this.get().map((t) => {
			const out = { stdin: t.stdin };
			if (t.expected_stdout)
				out.expected_stdout = t.expected_stdout;
			if (t.args)
				out.args = t.args.replace(/\n$/, "").split("\n");
			return out;
		});
		return { tests, compare: this.getCompare() };
	}

	add(t) {
		const li = document.createElement("li");
		li.className = "test";
		const head = document.createElement("div");
		head.className = "test-head";
		const name = document.createElement("span");
		name.className = "test-name";
		const badge = document.createElement("span");
		badge.className = "badge idle verdict";
		const remove = document.createElement("button");
		remove.type = "button";
		remove.className = "test-remove";
		remove.textContent = "Remove";
		remove.addEventListener("click", () => {
			const next = li.nextElementSibling || li.previousElementSibling;
			li.remove();
			(next ? next.querySelector(".test-remove") : this.root.querySelector("#test-add")).focus();
			this.changed();
		});
		head.append(name, badge, remove);

		const fields = document.createElement("div");
		fields.className = "test-fields";
		const field = (cls, label, value, placeholder) => {
			const lab = document.createElement("label");
			const span = document.createElement("span");
			span.textContent = label;
			const ta = document.createElement("textarea");
			ta.className = cls;
			ta.rows = 2;
			ta.wrap = "off";
			ta.spellcheck = false;
			ta.setAttribute("autocapitalize", "off");
			ta.setAttribute("autocomplete", "off");
			ta.placeholder = placeholder;
			ta.value = value;
			lab.append(span, ta);
			fields.append(lab);
		};
		field("test-stdin", "stdin", t.stdin, "fed to the program");
		field("test-expected", "expected stdout", t.expected_stdout, "empty: only exit code 0 counts");
		field("test-args", "arguments", t.args, "one per line");

		const message = document.createElement("p");
		message.className = "test-message";
		const output = document.createElement("details");
		output.className = "test-output";
		output.hidden = true;
		const sum = document.createElement("summary");
		sum.textContent = "output";
		const out = document.createElement("pre");
		out.className = "pane test-stdout";
		const err = document.createElement("pre");
		err.className = "pane err test-stderr";
		output.append(sum, out, err);

		li.append(head, fields, message, output);
		this.list.append(li);
		this.clearVerdict(li, "not run");
	}

	renumber() {
		this.rows().forEach((li, i) => {
			li.querySelector(".test-name").textContent = "Test " + (i + 1);
			li.querySelector(".test-remove").setAttribute("aria-label", "Remove test " + (i + 1));
		});
	}

	refreshSummary() {
		const n = this.rows().length;
		this.summary.textContent = n ? n + (n === 1 ? " test" : " tests") : "judge mode: none yet";
		this.runButton.disabled = this.busy || !n;
	}

	setBusy(on) {
		this.busy = on;
		this.refreshSummary();
	}

	clearVerdict(li, label) {
		const badge = li.querySelector(".verdict");
		badge.className = "badge idle verdict";
		badge.dataset.verdict = "";
		badge.textContent = label;
		li.querySelector(".test-message").textContent = "";
		li.querySelector(".test-output").hidden = true;
	}

	// A run of the tests starts: every row waits for its verdict.
	running() {
		for (const li of this.rows())
			this.clearVerdict(li, "waiting");
		this.total.textContent = "";
	}

	// One test's entry (a "test" event, or an entry of the result's tests).
	showVerdict(index, entry) {
		const li = this.rows()[index];
		if (!li || !entry)
			return;
		const [label, kind] = statusLabel(entry.verdict);
		const badge = li.querySelector(".verdict");
		badge.className = "badge verdict " + kind;
		badge.dataset.verdict = entry.verdict;
		badge.textContent = label;
		// A wrong answer's run message is about its exit ("exited with code 0").
		li.querySelector(".test-message").textContent = entry.verdict === "wrong_answer"
			? "The output differs from the expected output" + (entry.message ? " (" + entry.message + ")." : ".")
			: entry.message || "";
		const output = li.querySelector(".test-output");
		const out = typeof entry.stdout === "string" ? entry.stdout : "";
		const err = typeof entry.stderr === "string" ? entry.stderr : "";
		li.querySelector(".test-stdout").textContent = out;
		li.querySelector(".test-stderr").textContent = err;
		li.querySelector(".test-stderr").hidden = !err;
		output.hidden = entry.verdict === "skipped";
		output.querySelector("summary").textContent = out || err ? "output" : "output (none)";
	}

	// The request's answer: every verdict (the events may have been
	// missed), and the summary.
	showResult(r) {
		if (Array.isArray(r.tests))
			r.tests.forEach((t, i) => this.showVerdict(i, t));
		this.total.textContent = r.summary ? "Summary: " + summaryText(r.summary) : "";
		this.total.dataset.status = r.status || "";
	}

	// No answer (an error, or Stop): the tests still waiting say so.
	unfinished(label) {
		for (const li of this.rows()) {
			if (!li.querySelector(".verdict").dataset.verdict)
				this.clearVerdict(li, label);
		}
	}
}
