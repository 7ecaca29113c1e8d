// Numbers for people: bytes in binary units, and limits in the units the
// limits panel uses.

export function humanBytes(n) {
	if (!Number.isFinite(n))
		return "?";
	const units = ["B", "KiB", "MiB", "GiB", "TiB"];
	let i = 0;
	while (n >= 1024 && i < units.length - 1) {
		n /= 1024;
		i++;
	}
	const s = i === 0 || n >= 100 ? String(Math.round(n)) : n.toFixed(1).replace(/\.0$/, "");
	return s + " " + units[i];
}

// A value in the panel's unit (2.5 for 2.5 MiB), shortest exact-enough form.
export function inUnit(value, unit) {
	const v = value / unit;
	return Number.isInteger(v) ? String(v) : String(Math.round(v * 100) / 100);
}
