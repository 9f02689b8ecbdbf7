// Small building blocks every page uses: errors, status badges, empty states, the pager.
import { useCallback, useEffect, useRef, useState, type ReactNode } from "react";

import { describeError, type ListParams, type Page } from "../api/client";
import { statusTone } from "../lib/schedule";

export function ErrorBanner({ error, onDismiss }: { error: unknown; onDismiss?: () => void }) {
  if (!error) {
    return null;
  }
  return (
    <div className="error" role="alert">
      <span>{describeError(error)}</span>
      {onDismiss && (
        <button type="button" className="link" onClick={onDismiss} aria-label="Dismiss the error">
          ×
        </button>
      )}
    </div>
  );
}

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge badge-${statusTone(status)}`}>{status}</span>;
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <p className="empty-title">{title}</p>
      {children}
    </div>
  );
}

export function Loading({ what = "Loading" }: { what?: string }) {
  return (
    <p className="muted" role="status">
      {what}…
    </p>
  );
}

// A paginated list: the current page, and moves to the next and previous pages by the API's
// page tokens (each token is kept so "Previous" goes back exactly).
export function usePagedList<T>(
  fetchPage: (params: ListParams) => Promise<Page<T>>,
  deps: unknown[],
  pageSize = 20,
) {
  const [tokens, setTokens] = useState<string[]>([""]);
  const [page, setPage] = useState<Page<T> | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [version, setVersion] = useState(0);
  const fetchRef = useRef(fetchPage);
  fetchRef.current = fetchPage;

  // A change of filter starts again from the first page.
  useEffect(() => {
    setTokens([""]);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  const token = tokens[tokens.length - 1];
  useEffect(() => {
    let live = true;
    setLoading(true);
    fetchRef
      .current({ pageSize, pageToken: token || undefined })
      .then((p) => {
        if (live) {
          setPage(p);
          setError(null);
        }
      })
      .catch((e) => live && setError(e))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [token, version, pageSize, ...deps]);

  const reload = useCallback(() => setVersion((v) => v + 1), []);
  return {
    items: page?.items ?? [],
    loading,
    error,
    reload,
    pageNumber: tokens.length,
    hasNext: !!page?.nextPageToken,
    hasPrev: tokens.length > 1,
    next: () => page?.nextPageToken && setTokens((t) => [...t, page.nextPageToken]),
    prev: () => setTokens((t) => (t.length > 1 ? t.slice(0, -1) : t)),
  };
}

export function Pager({
  list,
  label,
}: {
  list: { hasNext: boolean; hasPrev: boolean; next: () => void; prev: () => void; pageNumber: number };
  label: string;
}) {
  if (!list.hasNext && !list.hasPrev) {
    return null;
  }
  return (
    <nav className="pager" aria-label={`${label} pages`}>
      <button type="button" onClick={list.prev} disabled={!list.hasPrev}>
        ← Previous
      </button>
      <span className="muted">Page {list.pageNumber}</span>
      <button type="button" onClick={list.next} disabled={!list.hasNext}>
        Next →
      </button>
    </nav>
  );
}

// Polls `load` every `ms` while `active`; for states that change on the server (runs, builds).
export function usePoll(load: () => void, ms: number, active: boolean) {
  const ref = useRef(load);
  ref.current = load;
  useEffect(() => {
    if (!active) {
      return;
    }
    const id = window.setInterval(() => ref.current(), ms);
    return () => window.clearInterval(id);
  }, [ms, active]);
}

export function CopyButton({ text, label }: { text: string; label: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      className="small"
      aria-label={label}
      onClick={() => {
        void navigator.clipboard?.writeText(text).then(() => {
          setCopied(true);
          window.setTimeout(() => setCopied(false), 1500);
        });
      }}
    >
      {copied ? "Copied" : "Copy"}
    </button>
  );
}
