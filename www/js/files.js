// Files: the panel of extra input files and names to collect, the request's
// base64 form (collected files come back as exact bytes only in base64
// mode: utf-8 mode would turn an image's bytes into U+FFFD), and the view of
// the collected files: text shown, images (PNG, JPEG, GIF, SVG, told by
// their bytes, whatever the name) drawn from a blob: URL.

// ---- base64 --------------------------------------------------------------------------

export function textToBase64(text) {
	return bytesToBase64(new TextEncoder().encode(text));
}

function bytesToBase64(bytes) {
	let bin = "";
	for (let i = 0; i < bytes.length; i += 0x8000)
		bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
	return btoa(bin);
}

export function base64ToBytes(b64) {
	if (typeof b64 !== "string")
		return new Uint8Array(0);
	const bin = atob(b64);
	return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

// Bytes as text the way utf-8 mode shows them (bad bytes become U+FFFD).
export function bytesToText(bytes) {
	return new TextDecoder().decode(bytes);
}

// The request with its data in base64 ("encoding": "base64").
export function toBase64Request(request) {
	const r = { ...request, encoding: "base64" };
	r.code = textToBase64(r.code);
	if (typeof r.stdin === "string")
		r.stdin = textToBase64(r.stdin);
	if (r.files) {
		r.files = Object.fromEntries(Object.entries(r.files).map(([k, v]) => [k, textToBase64(v)]));
	}
	if (r.tests) {
		r.tests = r.tests.map((t) => {
			const o = { ...t, stdin: textToBase64(t.stdin) };
			if (typeof t.expected_stdout === "string")
				o.expected_stdout = textToBase64(t.expected_stdout);
			return o;
		});
	}
	return r;
}

// A base64 answer in the utf-8 answer's shape, for the views: outputs as
// text; collected files keep their bytes (content: Uint8Array).
export function fromBase64Answer(r) {
	const step = (s) => {
		if (!s || typeof s !== "object")
			return s;
		const o = { ...s };
		for (const k of ["stdout", "stderr"]) {
			if (typeof o[k] === "string")
				o[k] = bytesToText(base64ToBytes(o[k]));
		}
		if (o.files && typeof o.files === "object") {
			o.files = Object.fromEntries(Object.entries(o.files).map(([name, f]) => [name,
				f && typeof f.content === "string" ? { ...f, content: base64ToBytes(f.content) } : f]));
		}
		return o;
	};
	const out = step(r);
	if (r.compile)
		out.compile = step(r.compile);
	if (Array.isArray(r.tests))
		out.tests = r.tests.map(step);
	return out;
}

// ---- what a file is ----------------------------------------------------------------------

const startsWith = (b, sig) => sig.every((v, i) => b[i] === v);

// An image's MIME type by its first bytes, or "".
export function imageType(bytes) {
	if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
		return "image/png";
	if (startsWith(bytes, [0xff, 0xd8, 0xff]))
		return "image/jpeg";
	const head = String.fromCharCode.apply(null, bytes.subarray(0, 6));
	if (head === "GIF87a" || head === "GIF89a")
		return "image/gif";
	// SVG: text whose first element is <svg, after an optional BOM, XML
	// declaration, comments and doctype.
	const text = new TextDecoder().decode(bytes.subarray(0, 4096));
	if (/^\uFEFF?\s*(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*|<!DOCTYPE[^>]*>\s*)*<svg[\s>]/i.test(text))
		return "image/svg+xml";
	return "";
}

function isText(bytes) {
	try {
		new TextDecoder("utf-8", { fatal: true }).decode(bytes);
		return !bytes.includes(0);
	} catch {
		return false;
	}
}

// ---- the panel ----------------------------------------------------------------------------

// Names to collect, as typed: separated by spaces or commas.
export function collectNames(text) {
	return text.split(/[\s,]+/).filter(Boolean);
}

export class FilesPanel {
	constructor(root, onChange) {
		const $ = (id) => root.querySelector("#" + id);
		this.root = root;
		this.list = $("file-list");
		this.collect = $("collect");
		this.summary = $("files-summary");
		this.onChange = onChange;
		$("file-add").addEventListener("click", () => {
			this.add({ name: "", content: "" });
			this.root.open = true;
			this.rows()[this.rows().length - 1].querySelector(".file-name").focus();
			this.changed();
		});
		root.addEventListener("input", () => this.refreshSummary());
	}

	rows() {
		return Array.from(this.list.children);
	}

	changed() {
		this.refreshSummary();
		this.onChange();
	}

	// [{name, content}] and the collect text, as the page keeps them.
	get() {
		return this.rows().map((li) => ({
			name: li.querySelector(".file-name").value,
			content: li.querySelector(".file-content").value,
		}));
	}

	getCollect() {
		return this.collect.value;
	}

	set(files, collect) {
		this.list.textContent = "";
		for (const f of files)
			this.add(f);
		this.collect.value = collect || "";
		this.refreshSummary();
	}

	// The request's "files" and "collect" (only those in use).
	request() {
		const out = {};
		const files = this.get().filter((f) => f.name);
		if (files.length)
			out.files = Object.fromEntries(files.map((f) => [f.name, f.content]));
		const names = collectNames(this.collect.value);
		if (names.length)
			out.collect = names;
		return out;
	}

	add(f) {
		const li = document.createElement("li");
		li.className = "file";
		const name = document.createElement("input");
		name.type = "text";
		name.className = "file-name";
		name.placeholder = "name, e.g. data.txt";
		name.spellcheck = false;
		name.setAttribute("aria-label", "File name");
		name.value = f.name;
		const remove = document.createElement("button");
		remove.type = "button";
		remove.className = "test-remove";
		remove.textContent = "Remove";
		remove.addEventListener("click", () => {
			li.remove();
			this.root.querySelector("#file-add").focus();
			this.changed();
		});
		const content = document.createElement("textarea");
		content.className = "file-content";
		content.rows = 3;
		content.wrap = "off";
		content.spellcheck = false;
		content.setAttribute("aria-label", "File content");
		content.value = f.content;
		const head = document.createElement("div");
		head.className = "test-head";
		head.append(name, remove);
		li.append(head, content);
		this.list.append(li);
	}

	refreshSummary() {
		const n = this.get().filter((f) => f.name).length;
		const c = collectNames(this.collect.value).length;
		const bits = [];
		if (n)
			bits.push(n + (n === 1 ? " input file" : " input files"));
		if (c)
			bits.push("collect " + c);
		this.summary.textContent = bits.length ? bits.join(", ") : "none";
	}
}

// ---- collected files ------------------------------------------------------------------------

export class CollectedView {
	constructor(root) {
		this.root = root;
		this.list = root.querySelector("#collected-list");
		this.urls = [];
	}

	clear() {
		for (const u of this.urls)
			URL.revokeObjectURL(u);
		this.urls = [];
		this.list.textContent = "";
		this.root.hidden = true;
	}

	// files: name -> {content: Uint8Array, truncated} or {error}.
	show(files) {
		this.clear();
		if (!files || typeof files !== "object" || !Object.keys(files).length)
			return;
		this.root.hidden = false;
		for (const [name, f] of Object.entries(files)) {
			const item = document.createElement("figure");
			item.className = "collected-file";
			item.dataset.name = name;
			const cap = document.createElement("figcaption");
			cap.textContent = name;
			item.append(cap);
			if (!f || !(f.content instanceof Uint8Array)) {
				item.dataset.kind = "error";
				const p = document.createElement("p");
				p.className = "test-message";
				p.textContent = (f && f.error) || "not collected";
				item.append(p);
				this.list.append(item);
				continue;
			}
			const bytes = f.content;
			const type = f.truncated ? "" : imageType(bytes);
			const note = document.createElement("span");
			note.className = "note";
			note.textContent = " " + bytes.length + " bytes" + (f.truncated ? ", truncated" : "");
			cap.append(note);
			if (type) {
				item.dataset.kind = "image";
				const url = URL.createObjectURL(new Blob([bytes], { type }));
				this.urls.push(url);
				const img = document.createElement("img");
				img.alt = name + " (" + type + ")";
				img.src = url;
				item.append(img);
			} else if (isText(bytes)) {
				item.dataset.kind = "text";
				const pre = document.createElement("pre");
				pre.className = "pane";
				pre.textContent = bytesToText(bytes);
				item.append(pre);
			} else {
				item.dataset.kind = "binary";
				const p = document.createElement("p");
				p.className = "note";
				p.textContent = "binary data, not shown";
				item.append(p);
			}
			this.list.append(item);
		}
	}
}
