import assert from "node:assert/strict";
import { escapeLabelValue, Exposition, formatValue } from "./exposition.ts";

Deno.test("escapeLabelValue() escapes backslash, quote and newline", () => {
  assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
});

Deno.test("formatValue() spells infinities and NaN as the format wants", () => {
  assert.deepEqual([1, 0.25, Infinity, -Infinity, NaN].map(formatValue), [
    "1",
    "0.25",
    "+Inf",
    "-Inf",
    "NaN",
  ]);
});

Deno.test("Exposition renders help, type and labelled samples in order", () => {
  const text = new Exposition()
    .family("x_total", "counter", "Things.")
    .sample("x_total", 3, { route: "/v2/", status: "200" })
    .single("up", "gauge", "Up.", 1)
    .text();
  assert.equal(
    text,
    '# HELP x_total Things.\n# TYPE x_total counter\nx_total{route="/v2/",status="200"} 3\n' +
      "# HELP up Up.\n# TYPE up gauge\nup 1\n",
  );
});
