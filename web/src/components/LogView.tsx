// A workload's log that follows new output live over the API's WebSocket while it runs, and
// falls back to reading it by offset when the socket can't be used.
import { useEffect, useRef, useState } from "react";

import { apiText, followLog } from "../api/client";

const MAX_CHARS = 2_000_000;

export function LogView({ logsPath, live, label }: { logsPath: string; live: boolean; label: string }) {
  const [text, setText] = useState("");
  const [state, setState] = useState<"loading" | "following" | "done" | "error">("loading");
  const [note, setNote] = useState("");
  const box = useRef<HTMLPreElement>(null);
  const stick = useRef(true);

  useEffect(() => {
    setText("");
    setNote("");
    let stop: (() => void) | null = null;
    let cancelled = false;
    const append = (chunk: string) =>
      setText((t) => {
        const next = t + chunk;
        return next.length > MAX_CHARS ? next.slice(next.length - MAX_CHARS) : next;
      });
    const readOnce = async () => {
      try {
        let offset = 0;
        for (let i = 0; i < 50; i++) {
          const { text: chunk, headers } = await apiText(logsPath, { offset });
          if (cancelled) {
            return;
          }
          append(chunk);
          const nextOffset = Number(headers.get("X-Log-Offset") ?? offset + chunk.length);
          if (nextOffset <= offset || headers.get("X-Log-Complete") === "true") {
            break;
          }
          offset = nextOffset;
        }
        setState("done");
      } catch (e) {
        if (!cancelled) {
          setState("error");
          setNote(String((e as Error).message ?? e));
        }
      }
    };
    if (live) {
      setState("following");
      stop = followLog(`${logsPath}:follow`, 0, append, (error) => {
        if (cancelled) {
          return;
        }
        if (error) {
          // The socket failed: show what is there now.
          setText("");
          setNote("The live connection was lost; showing the log as it is now.");
          void readOnce();
        } else {
          setState("done");
        }
      });
    } else {
      setState("loading");
      void readOnce();
    }
    return () => {
      cancelled = true;
      stop?.();
    };
  }, [logsPath, live]);

  useEffect(() => {
    const el = box.current;
    if (el && stick.current) {
      el.scrollTop = el.scrollHeight;
    }
  }, [text]);

  return (
    <div className="log">
      <div className="log-head">
        <span>{label}</span>
        <span className="muted" role="status">
          {state === "following" ? "● following live" : state === "loading" ? "loading…" : state === "error" ? "could not read the log" : "complete"}
        </span>
      </div>
      {note && <p className="muted">{note}</p>}
      <pre
        ref={box}
        className="log-body"
        tabIndex={0}
        aria-label={label}
        data-testid="log"
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
        }}
      >
        {text || (state === "done" ? "(no output)" : "")}
      </pre>
    </div>
  );
}
