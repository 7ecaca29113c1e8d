// The code editor: a plain textarea with a line-number gutter, Tab and
// Shift+Tab to indent and dedent (the selected lines, or at the caret), and
// Enter keeping the current line's indentation.
//
// Tab inside an editor traps keyboard users, so, as in most code editors,
// Escape releases it: the next Tab moves focus on as usual.

export function attachEditor(textarea, gutter, indentUnit) {
	let lines = 0;
	let released = false;

	function updateGutter() {
		let n = 1;
		for (let i = textarea.value.indexOf("\n"); i !== -1; i = textarea.value.indexOf("\n", i + 1))
			n++;
		if (n !== lines) {
			lines = n;
			const nums = new Array(n);
			for (let i = 0; i < n; i++)
				nums[i] = i + 1;
			gutter.textContent = nums.join("\n");
			gutter.style.setProperty("--digits", String(n).length);
		}
		gutter.scrollTop = textarea.scrollTop;
	}

	// execCommand keeps the browser's undo history; setRangeText is the
	// fallback where it is gone.
	function replaceSelection(text) {
		if (!document.execCommand || !document.execCommand("insertText", false, text)) {
			textarea.setRangeText(text, textarea.selectionStart, textarea.selectionEnd, "end");
			textarea.dispatchEvent(new Event("input", { bubbles: true }));
		}
	}

	function lineStart(pos) {
		return textarea.value.lastIndexOf("\n", pos - 1) + 1;
	}

	function dedentLine(line, unit) {
		if (line.startsWith("\t"))
			return line.slice(1);
		const spaces = line.match(/^ */)[0].length;
		return line.slice(Math.min(spaces, unit === "\t" ? 8 : unit.length));
	}

	function indent(outdent) {
		const unit = indentUnit();
		const value = textarea.value;
		let start = textarea.selectionStart;
		let end = textarea.selectionEnd;
		const multiLine = value.slice(start, end).includes("\n");
		if (!outdent && !multiLine) {
			replaceSelection(unit);
			return;
		}
		// Whole lines: from the first selected line's start to the end of
		// the last one (a selection ending at a line start leaves that line).
		start = lineStart(start);
		if (end > start && value[end - 1] === "\n")
			end--;
		const stop = value.indexOf("\n", end);
		end = stop === -1 ? value.length : stop;
		const block = value.slice(start, end).split("\n")
			.map((l) => (outdent ? dedentLine(l, unit) : (l.length ? unit + l : l)))
			.join("\n");
		textarea.setSelectionRange(start, end);
		replaceSelection(block);
		if (multiLine)
			textarea.setSelectionRange(start, start + block.length);
	}

	function newline() {
		const start = lineStart(textarea.selectionStart);
		const lead = textarea.value.slice(start, textarea.selectionStart).match(/^[ \t]*/)[0];
		replaceSelection("\n" + lead);
	}

	textarea.addEventListener("keydown", (e) => {
		if (e.key === "Escape") {
			released = true;
			return;
		}
		const wasReleased = released;
		released = false;
		if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing)
			return;
		if (e.key === "Tab" && !wasReleased) {
			e.preventDefault();
			indent(e.shiftKey);
		} else if (e.key === "Enter" && !e.shiftKey) {
			e.preventDefault();
			newline();
		}
	});
	textarea.addEventListener("input", updateGutter);
	textarea.addEventListener("scroll", () => { gutter.scrollTop = textarea.scrollTop; });
	// Setting .value from script fires no input event.
	return { refresh: updateGutter };
}

// Indentation to insert: what the code already uses, else the language's
// habit (Python: four spaces; the rest: a tab, like gofmt and the C sample).
export function guessIndent(code, languageId) {
	const m = code.match(/^(\t| +)\S/m);
	if (m)
		return m[1] === "\t" ? "\t" : (m[1].length >= 2 && m[1].length <= 8 ? m[1] : "    ");
	return /^python/.test(languageId) ? "    " : "\t";
}
