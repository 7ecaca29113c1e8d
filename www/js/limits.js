// The limits panel: one input per limit, in a unit people think in (ms,
// MiB, KiB, count), empty meaning "the server's default".  The defaults are
// shown as placeholders once known: from GET /api/v1/health when the
// server publishes them there ("limits": {"default": {...}, "max": {...}}),
// otherwise learned from the effective "limits" of the last run.

import { inUnit } from "./format.js";

export class LimitsPanel {
	constructor(details, summary, note, resetButton) {
		this.details = details;
		this.summary = summary;
		this.note = note;
		this.inputs = [...details.querySelectorAll("input[data-limit]")];
		this.defaults = {};
		this.maxima = {};
		resetButton.addEventListener("click", () => {
			this.set({});
			this.inputs[0].dispatchEvent(new Event("input", { bubbles: true }));
		});
		details.addEventListener("input", () => this.updateSummary());
	}

	static unitOf(input) {
		return Number(input.dataset.unit);
	}

	static unitName(input) {
		return input.nextElementSibling.textContent;
	}

	static labelOf(input) {
		return input.labels[0].textContent;
	}

	// Limits in API units ({} when all are defaults); throws {input, message}
	// for a value that is not a positive number.
	read() {
		const out = {};
		for (const input of this.inputs) {
			const text = input.value.trim().replace(",", ".");
			input.removeAttribute("aria-invalid");
			if (text === "")
				continue;
			const unit = LimitsPanel.unitOf(input);
			const ok = unit === 1 ? /^\d+$/.test(text) : /^(\d+\.?\d*|\.\d+)$/.test(text);
			const value = ok ? Math.round(Number(text) * unit) : 0;
			if (!ok || value < 1 || !Number.isSafeInteger(value)) {
				input.setAttribute("aria-invalid", "true");
				const what = unit === 1 ? "a whole number" : "a number";
				const u = LimitsPanel.unitName(input);
				throw { input, message: LimitsPanel.labelOf(input) + ": enter " + what +
					(u ? " of " + u : "") + " greater than 0, or leave it empty for the server's default." };
			}
			out[input.dataset.limit] = value;
		}
		return out;
	}

	// Show limits in the inputs; keys the panel has no input for are kept
	// aside so that a shared link's stack or file limits survive a round trip.
	set(limits) {
		this.hidden = {};
		for (const [k, v] of Object.entries(limits)) {
			if (!this.inputs.some((i) => i.dataset.limit === k))
				this.hidden[k] = v;
		}
		for (const input of this.inputs) {
			const v = limits[input.dataset.limit];
			input.value = v === undefined ? "" : inUnit(v, LimitsPanel.unitOf(input));
			input.removeAttribute("aria-invalid");
		}
		this.updateSummary();
	}

	readAll() {
		return { ...this.hidden, ...this.read() };
	}

	setDefaults(defaults, maxima, fromServer) {
		Object.assign(this.defaults, defaults);
		Object.assign(this.maxima, maxima || {});
		for (const input of this.inputs) {
			const unit = LimitsPanel.unitOf(input);
			const d = this.defaults[input.dataset.limit];
			const m = this.maxima[input.dataset.limit];
			if (d !== undefined)
				input.placeholder = inUnit(d, unit);
			const hint = input.nextElementSibling.nextElementSibling;
			hint.textContent = m !== undefined ? "max " + inUnit(m, unit) : "";
		}
		if (Object.keys(this.defaults).length) {
			this.note.textContent = fromServer
				? "Leave a field empty for the server's default (shown greyed)."
				: "Leave a field empty for the server's default (shown greyed: the limits of your last run).";
		}
	}

	// Mark the input an API error names ("limits.cpu_time_ms must be...").
	markFromMessage(message) {
		const m = /\blimits\.([a-z_]+)/i.exec(message || "");
		const input = m && this.inputs.find((i) => i.dataset.limit === m[1]);
		if (!input)
			return null;
		this.details.open = true;
		input.setAttribute("aria-invalid", "true");
		return input;
	}

	updateSummary() {
		const parts = [];
		for (const input of this.inputs) {
			if (input.value.trim() !== "")
				parts.push(LimitsPanel.labelOf(input) + " " + input.value.trim() + " " +
					LimitsPanel.unitName(input));
		}
		const hidden = Object.keys(this.hidden || {}).length;
		if (hidden)
			parts.push(hidden + " more from the link");
		this.summary.textContent = parts.length ? "custom: " + parts.join(", ") : "server defaults";
	}
}
