/**
 * One formatter for the values named in error messages, so every
 * `PageFragError` renders a bad argument the same way and none of them can
 * throw while doing it (a Symbol, a BigInt or a revoked Proxy included).
 *
 * @module
 */

/** A short, safe rendering of a value for error messages (internal: not exported from any entry point). */
export function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") return String(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "symbol") return value.toString();
  if (value === null || value === undefined || typeof value === "boolean") {
    return String(value);
  }
  if (typeof value === "function") return "a function";
  if (Array.isArray(value)) return "an array";
  return `an object (${Object.prototype.toString.call(value)})`;
}
