// How values are shown to people, in the browser: the same answers as cairn.core.display, so a
// chart's tooltip and the table beside it never disagree about a value. Each function mirrors
// the Python one of the same name; a browser test (tests/ui/test_display_js.py) runs both over
// thousands of values and requires the same text.
//
// - number: six significant digits as Python's format(x, ".6g") writes them (0.912346,
//   1.23457e+07, 1e-07, ties to even: 123456.5 is 123456), -0 as 0; NaN, inf and -inf by name.
//   JavaScript's toPrecision differs in four ways (exponent thresholds, 1e-7 for 1e-07, kept
//   trailing zeros, ties away from zero), so the digits are rounded here, exactly, with BigInt.
// - value: a param or any value a run holds: an integer as it is written (1000000), a float as
//   a number, true/false, text as it is. JSON erases the difference between 1000000 and
//   1000000.0, which Python shows differently, so JSON read for display goes through parseJson,
//   which keeps integers as BigInt.
// - duration (ms): 850ms, 42s, 3m 12s, 2h 05m, 3d 04h. timestamp (ms): UTC, saying so, as the
//   dashboard's `time` filter: 2024-05-01 14:03:11 UTC. plural: 1 point, 2 points.
"use strict";

window.cairnDisplay = (function () {
  const MISSING = "—";
  const DIGITS = 6;

  function number(v) {
    if (v == null) return MISSING;
    if (Number.isNaN(v)) return "NaN";
    if (v === Infinity) return "inf";
    if (v === -Infinity) return "-inf";
    if (v === 0) return "0";  // and -0
    const sign = v < 0 ? "-" : "";
    const { digits, exponent } = significant(Math.abs(v), DIGITS);
    // Python's "g": positional notation for exponents from -4 up to the precision, trailing
    // zeros and a bare point dropped; otherwise d.ddddde±XX, with at least two exponent digits.
    if (exponent >= -4 && exponent < DIGITS) {
      const text = exponent >= 0
        ? digits.slice(0, exponent + 1) + "." + digits.slice(exponent + 1)
        : "0." + "0".repeat(-exponent - 1) + digits;
      return sign + trimZeros(text);
    }
    const mantissa = trimZeros(digits[0] + "." + digits.slice(1));
    return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + String(Math.abs(exponent)).padStart(2, "0");
  }

  function trimZeros(text) {
    return text.replace(/0+$/, "").replace(/\.$/, "");
  }

  // The first `count` significant digits of x > 0, correctly rounded (half to even, on x's exact
  // binary value, as Python rounds), and the decimal exponent of the first.
  function significant(x, count) {
    const [num, den] = exactRatio(x);
    let exponent = Math.floor(Math.log10(x));
    // log10 may be one off next to a power of ten: the exact ratio settles it.
    let [n, d] = timesPowerOfTen(num, den, -exponent);
    if (n < d) exponent -= 1;
    else if (n >= 10n * d) exponent += 1;
    [n, d] = timesPowerOfTen(num, den, count - 1 - exponent);
    let kept = n / d;
    const twiceRest = (n % d) * 2n;
    if (twiceRest > d || (twiceRest === d && kept % 2n === 1n)) kept += 1n;
    if (kept === 10n ** BigInt(count)) {  // 999999.5 rounds up to 1000000: one more digit
      kept /= 10n;
      exponent += 1;
    }
    return { digits: kept.toString(), exponent };
  }

  // A finite double as numerator / denominator, both BigInt: its exact value.
  function exactRatio(x) {
    const view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, x);
    const high = view.getUint32(0);
    const biased = (high >>> 20) & 0x7ff;
    let mantissa = (BigInt(high & 0xfffff) << 32n) | BigInt(view.getUint32(4));
    let exponent = -1074;  // subnormal
    if (biased !== 0) {
      mantissa |= 1n << 52n;
      exponent = biased - 1075;
    }
    return exponent >= 0 ? [mantissa << BigInt(exponent), 1n] : [mantissa, 1n << BigInt(-exponent)];
  }

  function timesPowerOfTen(num, den, k) {
    return k >= 0 ? [num * 10n ** BigInt(k), den] : [num, den * 10n ** BigInt(-k)];
  }

  function value(item) {
    if (item == null) return MISSING;
    if (typeof item === "boolean") return item ? "true" : "false";
    if (typeof item === "bigint") return item.toString();
    if (typeof item === "number") return number(item);
    return String(item);
  }

  // JSON.parse that keeps Python's int and float apart: an integer literal (no point, no
  // exponent) becomes a BigInt, as value() shows it in full. Where the browser cannot show the
  // reviver the literal's text (older than Chrome 114, Firefox 135), a whole number is taken
  // for an integer. Charts plot Number(v).
  function parseJson(text) {
    return JSON.parse(text, (key, v, context) => {
      if (typeof v !== "number") return v;
      const source = context && context.source;
      if (source !== undefined) return /^-?\d+$/.test(source) ? BigInt(source) : v;
      return Number.isSafeInteger(v) ? BigInt(v) : v;
    });
  }

  function plural(count, noun) {
    return count === 1 ? `${count} ${noun}` : `${count} ${noun}s`;
  }

  function duration(ms) {
    if (ms == null) return MISSING;
    if (ms < 0) return "-" + duration(-ms);
    if (ms < 1000) return `${ms}ms`;
    const pad = (n) => String(n).padStart(2, "0");
    const seconds = Math.floor(ms / 1000);
    if (seconds < 60) return `${seconds}s`;
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return `${minutes}m ${pad(seconds % 60)}s`;
    const hours = Math.floor(minutes / 60);
    if (hours < 24) return `${hours}h ${pad(minutes % 60)}m`;
    return `${Math.floor(hours / 24)}d ${pad(hours % 24)}h`;
  }

  // The range Python's datetime holds (core/display.py clamps to it the same way).
  const MIN_MS = -62135596800000 + 86400000;
  const MAX_MS = 253402300799000 - 86400000;

  function timestamp(ms) {
    if (ms == null) return MISSING;
    const clamped = Math.min(Math.max(ms, MIN_MS), MAX_MS);
    return new Date(clamped).toISOString().slice(0, 19).replace("T", " ") + " UTC";
  }

  return { MISSING, DIGITS, number, value, parseJson, plural, duration, timestamp };
})();
