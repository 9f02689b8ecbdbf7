import { describe, expect, it } from "vitest";

import { annotateLines, checkProfile, comparableAnswer, parseJsonInput, parseLineageProblem, replayRows } from "./governance";

const limits = { cpu: 8, memory: 64, nvidia_gpu: 0 };

describe("checkProfile", () => {
  it("accepts a profile within the limits and trims its name", () => {
    const r = checkProfile({ name: " gpu-large ", cpu: "4", memory: "16", nvidia_gpu: "" }, limits);
    expect(r.errors).toEqual({});
    expect(r.value).toEqual({ name: "gpu-large", cpu: 4, memory: 16, nvidia_gpu: 0 });
  });

  it("says what is wrong with each field", () => {
    const r = checkProfile({ name: "", cpu: "0", memory: "abc", nvidia_gpu: "1.5" }, limits);
    expect(r.value).toBeUndefined();
    expect(r.errors.name).toMatch(/name/);
    expect(r.errors.cpu).toMatch(/above 0/);
    expect(r.errors.memory).toMatch(/GiB above 0/);
    expect(r.errors.nvidia_gpu).toMatch(/whole number/);
  });

  it("holds cpu and memory to the per-workload maximum", () => {
    const r = checkProfile({ name: "huge", cpu: "9", memory: "65", nvidia_gpu: "0" }, limits);
    expect(r.errors.cpu).toMatch(/At most 8 vCPU/);
    expect(r.errors.memory).toMatch(/At most 64 GiB/);
  });

  it("refuses names that would not survive a URL, and duplicates when creating", () => {
    expect(checkProfile({ name: "a/b", cpu: "1", memory: "1", nvidia_gpu: "0" }, limits).errors.name).toMatch(/letters/);
    expect(checkProfile({ name: "x".repeat(65), cpu: "1", memory: "1", nvidia_gpu: "0" }, limits).errors.name).toMatch(/64/);
    expect(checkProfile({ name: "small", cpu: "1", memory: "1", nvidia_gpu: "0" }, limits, ["small"]).errors.name).toMatch(/exists/);
  });

  it("warns, without refusing, about more GPUs than the server has", () => {
    const r = checkProfile({ name: "gpu", cpu: "1", memory: "1", nvidia_gpu: "2" }, limits);
    expect(r.value).toBeDefined();
    expect(r.warnings.nvidia_gpu).toMatch(/no GPUs/);
  });

  it("checks without limits when the server's are not known yet", () => {
    expect(checkProfile({ name: "big", cpu: "100", memory: "1000", nvidia_gpu: "4" }, null).value).toBeDefined();
  });
});

describe("lineage problems", () => {
  it("reads the line and column of a problem", () => {
    expect(parseLineageProblem('lineage.yaml:5:3: unknown key "bogus" in "M"; ignored')).toEqual({
      line: 5,
      column: 3,
      message: 'unknown key "bogus" in "M"; ignored',
    });
  });

  it("keeps a problem of the whole file without a position", () => {
    expect(parseLineageProblem("lineage.yaml: the file is 2000000 bytes")).toEqual({
      line: null,
      column: null,
      message: "the file is 2000000 bytes",
    });
    expect(parseLineageProblem("something else")).toEqual({ line: null, column: null, message: "something else" });
  });

  it("puts each problem next to its line", () => {
    const lines = annotateLines("a:\n  b: 1\n  c: [\n", [{ line: 3, column: 6, message: "unclosed" }]);
    expect(lines.map((l) => l.number)).toEqual([1, 2, 3]);
    expect(lines[2].problems).toHaveLength(1);
    expect(lines[0].problems).toHaveLength(0);
  });
});

describe("parseJsonInput", () => {
  it("parses JSON or says why not", () => {
    expect(parseJsonInput('{"x": 1}', "request")).toEqual({ value: { x: 1 } });
    expect(parseJsonInput("  ", "request").error).toMatch(/Write the request as JSON/);
    expect(parseJsonInput("{x: 1}", "answer").error).toMatch(/The answer is not valid JSON/);
  });
});

describe("replayRows", () => {
  const examples = [
    { id: 2, request: { x: 2 }, response: { prediction: { double: 4 }, uuid: "u2" } },
    { id: 1, request: { x: 1 }, response: { double: 2 } },
    { id: 3, request: { x: 3 }, response: { double: 6 } },
  ];

  it("lines up changed and same answers in example order", () => {
    const rows = replayRows(examples, [{ example_id: 2, request: { x: 2 }, expected: { double: 4 }, actual: { double: 6 } }], 3);
    expect(rows.map((r) => [r.exampleId, r.changed])).toEqual([
      [1, false],
      [2, true],
      [3, false],
    ]);
    expect(rows[1].actual).toEqual({ double: 6 });
    expect(rows[0].expected).toEqual({ double: 2 });
  });

  it("leaves out examples added after the replay", () => {
    expect(replayRows(examples, [], 2).map((r) => r.exampleId)).toEqual([1, 2]);
  });

  it("compares a tracked prediction without its uuid", () => {
    expect(comparableAnswer({ prediction: 1, uuid: "x" })).toBe(1);
    expect(comparableAnswer({ prediction: 1, uuid: "x", other: 2 })).toEqual({ prediction: 1, uuid: "x", other: 2 });
  });
});
