// The typed client of Lathe's REST API: the session cookie, the CSRF header on changes, the one
// error shape turned into words, pagination, uploads with progress and live logs.
import type { MetricRecord, MetricsRead, ServingHistory } from "./types";

export interface ApiErrorBody {
  error?: { code?: string; message?: string };
}

// An error the API answered (status and code set), or a failure to reach it (status 0).
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId = "",
  ) {
    super(message);
    this.name = "ApiError";
  }
}

let csrfToken = "";
let onSignedOut: (() => void) | null = null;

export function setCsrfToken(token: string): void {
  csrfToken = token;
}

// Called when the API says the caller is not signed in (the session expired or was revoked).
export function setSignedOutHandler(handler: (() => void) | null): void {
  onSignedOut = handler;
}

const STATE_CHANGING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

// Builds an ApiError from a response with the API's error body (or without one).
export function errorFromResponse(status: number, bodyText: string, requestId = ""): ApiError {
  let code = "";
  let message = "";
  try {
    const body = JSON.parse(bodyText) as ApiErrorBody;
    code = body.error?.code ?? "";
    message = body.error?.message ?? "";
  } catch {
    // Not JSON: a proxy's page, or nothing.
  }
  if (!message) {
    message = `the server answered HTTP ${status}`;
  }
  return new ApiError(status, code || `http_${status}`, message, requestId);
}

// The sentence to show a user for an error: what happened and what to do about it.
export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    const msg = capitalize(err.message);
    switch (err.code) {
      case "network":
        return "Lathe's server is not answering. Check that it is running, then try again.";
      case "unauthenticated":
        return `You are not signed in (${err.message}). Sign in and try again.`;
      case "csrf_failed":
        return "This page's security token is out of date. Reload the page and try again.";
      case "permission_denied":
        return `${msg}. Ask a project or site admin for access if you need it.`;
      case "too_many_requests":
        return `${msg}. Wait a moment and try again.`;
      case "internal":
      case "unavailable":
        return `${msg}.${err.requestId ? ` If it keeps happening, give your admin the request id ${err.requestId}.` : ""}`;
      default:
        return msg.endsWith(".") ? msg : `${msg}.`;
    }
  }
  if (err instanceof Error) {
    return err.message;
  }
  return String(err);
}

function capitalize(s: string): string {
  return s ? s[0].toUpperCase() + s.slice(1) : s;
}

export type Query = Record<string, string | number | boolean | undefined | null>;

export function withQuery(path: string, query?: Query): string {
  if (!query) {
    return path;
  }
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== "") {
      params.set(k, String(v));
    }
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

export interface RequestOptions {
  body?: unknown;
  query?: Query;
  // Send the body as it is (a file's bytes), not as JSON.
  rawBody?: BodyInit;
  signal?: AbortSignal;
}

async function send(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { Accept: "application/json" };
  let body: BodyInit | undefined;
  if (opts.rawBody !== undefined) {
    body = opts.rawBody;
    headers["Content-Type"] = "application/octet-stream";
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers["Content-Type"] = "application/json";
  }
  if (STATE_CHANGING.has(method) && csrfToken) {
    headers["X-CSRF-Token"] = csrfToken;
  }
  let resp: Response;
  try {
    resp = await fetch(withQuery(path, opts.query), {
      method,
      headers,
      body,
      credentials: "same-origin",
      signal: opts.signal,
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === "AbortError") {
      throw e;
    }
    throw new ApiError(0, "network", "the server is not answering");
  }
  if (!resp.ok) {
    const err = errorFromResponse(resp.status, await resp.text(), resp.headers.get("X-Request-Id") ?? "");
    if (err.status === 401 && onSignedOut && !path.endsWith("/auth/login")) {
      onSignedOut();
    }
    throw err;
  }
  return resp;
}

// A JSON request; resolves to the parsed body (undefined for 204).
export async function api<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const resp = await send(method, path, opts);
  if (resp.status === 204) {
    return undefined as T;
  }
  const text = await resp.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

// A text answer (logs) with its headers.
export async function apiText(path: string, query?: Query): Promise<{ text: string; headers: Headers }> {
  const resp = await send("GET", path, { query });
  return { text: await resp.text(), headers: resp.headers };
}

export interface Page<T> {
  items: T[];
  nextPageToken: string;
}

export interface ListParams {
  pageSize?: number;
  pageToken?: string;
  // Field matches (strings: case-insensitive substring), sent as search_filter JSON.
  filter?: Record<string, string | number | boolean>;
  sort?: string;
}

// One page of a list endpoint: `{"<key>": [...], "next_page_token": "..."}`.
export async function listPage<T>(path: string, key: string, params: ListParams = {}): Promise<Page<T>> {
  const filter = params.filter && Object.keys(params.filter).length ? JSON.stringify(params.filter) : undefined;
  const body = await api<Record<string, unknown>>("GET", path, {
    query: {
      page_size: params.pageSize,
      page_token: params.pageToken,
      search_filter: filter,
      sort: params.sort,
    },
  });
  return { items: (body[key] as T[]) ?? [], nextPageToken: (body.next_page_token as string) ?? "" };
}

// A deployment's requests, errors and latency per minute (or hour) in [fromMs, toMs].
export function servingHistory(
  projectId: number,
  modelId: number,
  buildId: number,
  deploymentId: number,
  fromMs: number,
  toMs: number,
  resolution: "minute" | "hour",
): Promise<ServingHistory> {
  return api<ServingHistory>(
    "GET",
    `/api/v2/projects/${projectId}/models/${modelId}/builds/${buildId}/deployments/${deploymentId}/stats/history`,
    { query: { from: Math.floor(fromMs), to: Math.floor(toMs), resolution } },
  );
}

// The aggregate metrics (accuracy computed over windows: track_aggregate_metrics) of a model's
// deployments whose window overlaps [fromMs, toMs]. metrics:read answers the aggregates with its
// first page, so one prediction is asked for, not all of them.
export async function readAggregates(modelCrn: string, fromMs: number, toMs: number): Promise<MetricRecord[]> {
  const body = await api<MetricsRead>("POST", "/api/v2/metrics:read", {
    body: { modelCrn, startTimeStampMs: Math.floor(fromMs), endTimeStampMs: Math.floor(toMs), limit: 1 },
  });
  return (body.metrics ?? []).filter((r) => r.aggregate === true);
}

// Encodes a project-relative file path for the URL, segment by segment.
export function filePathUrl(path: string): string {
  return path
    .split("/")
    .filter((s) => s !== "")
    .map(encodeURIComponent)
    .join("/");
}

// PUTs a file's bytes with upload progress (fetch cannot report it; XMLHttpRequest can).
export function uploadWithProgress(
  url: string,
  data: Blob,
  onProgress: (sent: number, total: number) => void,
): { done: Promise<unknown>; abort: () => void } {
  const xhr = new XMLHttpRequest();
  const done = new Promise<unknown>((resolve, reject) => {
    xhr.open("PUT", url);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    if (csrfToken) {
      xhr.setRequestHeader("X-CSRF-Token", csrfToken);
    }
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : data.size);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(data.size, data.size);
        resolve(xhr.responseText ? JSON.parse(xhr.responseText) : undefined);
      } else {
        reject(errorFromResponse(xhr.status, xhr.responseText, xhr.getResponseHeader("X-Request-Id") ?? ""));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, "network", "the upload was cut off"));
    xhr.onabort = () => reject(new ApiError(0, "aborted", "the upload was cancelled"));
    xhr.send(data);
  });
  return { done, abort: () => xhr.abort() };
}

// Follows a log over the API's WebSocket (`...logs:follow`): `onData` gets each chunk as text,
// `onEnd` is called once the server closes (the workload ended and everything was sent) or the
// connection failed (`error` set). Returns a function that stops following.
export function followLog(
  path: string,
  offset: number,
  onData: (text: string) => void,
  onEnd: (error?: string) => void,
): () => void {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${window.location.host}${withQuery(path, { offset })}`);
  ws.binaryType = "arraybuffer";
  const decoder = new TextDecoder();
  let stopped = false;
  let opened = false;
  ws.onopen = () => {
    opened = true;
  };
  ws.onmessage = (e) => {
    if (typeof e.data === "string") {
      onData(e.data);
    } else {
      onData(decoder.decode(e.data as ArrayBuffer, { stream: true }));
    }
  };
  ws.onclose = (e) => {
    if (stopped) {
      return;
    }
    stopped = true;
    const tail = decoder.decode();
    if (tail) {
      onData(tail);
    }
    onEnd(opened && (e.code === 1000 || e.code === 1005) ? undefined : "the live log connection closed");
  };
  return () => {
    stopped = true;
    ws.close();
  };
}
