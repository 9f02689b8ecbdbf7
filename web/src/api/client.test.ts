import { describe, expect, it } from "vitest";

import { ApiError, describeError, errorFromResponse, filePathUrl, withQuery } from "./client";

describe("errors", () => {
  it("reads the API's error body", () => {
    const e = errorFromResponse(409, '{"error":{"code":"conflict","message":"a project named demo exists"}}', "r1");
    expect([e.status, e.code, e.message, e.requestId]).toEqual([409, "conflict", "a project named demo exists", "r1"]);
    expect(describeError(e)).toBe("A project named demo exists.");
  });
  it("copes with a body that is not the API's", () => {
    const e = errorFromResponse(502, "<html>Bad gateway</html>");
    expect([e.code, e.message]).toEqual(["http_502", "the server answered HTTP 502"]);
  });
  it("says what to do", () => {
    expect(describeError(new ApiError(0, "network", "x"))).toMatch(/not answering.*running/);
    expect(describeError(new ApiError(403, "csrf_failed", "x"))).toMatch(/Reload the page/);
    expect(describeError(new ApiError(403, "permission_denied", "you need Contributor"))).toBe(
      "You need Contributor. Ask a project or site admin for access if you need it.",
    );
    expect(describeError(new ApiError(500, "internal", "boom", "abc"))).toContain("request id abc");
  });
});

describe("urls", () => {
  it("drops empty query values", () => {
    expect(withQuery("/p", { a: 1, b: "", c: undefined, d: "x y" })).toBe("/p?a=1&d=x+y");
    expect(withQuery("/p", {})).toBe("/p");
  });
  it("encodes file paths segment by segment", () => {
    expect(filePathUrl("data/my file#1.csv")).toBe("data/my%20file%231.csv");
    expect(filePathUrl("/a//b/")).toBe("a/b");
  });
});
