// Who is signed in: the session from GET /api/v2/auth/session, sign-in and sign-out.
import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from "react";

import { api, ApiError, setCsrfToken, setSignedOutHandler } from "./api/client";
import type { Session, User } from "./api/types";

interface SessionState {
  user: User | null;
  checking: boolean;
  checkError: unknown;
  signIn: (username: string, password: string) => Promise<void>;
  signOut: () => Promise<void>;
  // Reads the signed-in user again (after they changed their profile).
  refresh: () => void;
}

const SessionContext = createContext<SessionState | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null>(null);
  const [checking, setChecking] = useState(true);
  const [checkError, setCheckError] = useState<unknown>(null);

  useEffect(() => {
    setSignedOutHandler(() => {
      setCsrfToken("");
      setUser(null);
    });
    api<Session>("GET", "/api/v2/auth/session")
      .then((s) => {
        setCsrfToken(s.csrf_token ?? "");
        setUser(s.user);
      })
      .catch((e) => {
        if (!(e instanceof ApiError && e.status === 401)) {
          setCheckError(e);
        }
      })
      .finally(() => setChecking(false));
    return () => setSignedOutHandler(null);
  }, []);

  const signIn = useCallback(async (username: string, password: string) => {
    const s = await api<Session>("POST", "/api/v2/auth/login", { body: { username, password } });
    setCsrfToken(s.csrf_token ?? "");
    setCheckError(null);
    setUser(s.user);
  }, []);

  const signOut = useCallback(async () => {
    try {
      await api("POST", "/api/v2/auth/logout");
    } finally {
      setCsrfToken("");
      setUser(null);
    }
  }, []);

  const refresh = useCallback(() => {
    api<Session>("GET", "/api/v2/auth/session")
      .then((s) => setUser(s.user))
      .catch(() => undefined);
  }, []);

  return (
    <SessionContext.Provider value={{ user, checking, checkError, signIn, signOut, refresh }}>{children}</SessionContext.Provider>
  );
}

export function useSession(): SessionState {
  const s = useContext(SessionContext);
  if (!s) {
    throw new Error("useSession outside SessionProvider");
  }
  return s;
}
