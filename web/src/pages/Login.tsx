// Sign in with a username and password (a browser session).
import { useRef, useState, type FormEvent } from "react";

import { ApiError } from "../api/client";
import { ErrorBanner } from "../components/common";
import { useSession } from "../session";

export function LoginPage() {
  const { signIn } = useSession();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const passwordInput = useRef<HTMLInputElement>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      // Signed in: the /login route sends the browser on (see AfterSignIn).
      await signIn(username.trim(), password);
    } catch (err) {
      setError(signInError(err));
      setBusy(false);
      // Most failures are a mistyped password: ready to type it again.
      passwordInput.current?.select();
    }
  };

  return (
    <section className="card login">
      <h1>Sign in to Lathe</h1>
      <form onSubmit={submit}>
        <label>
          Username
          <input autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} required autoFocus />
        </label>
        <label>
          Password
          <input
            ref={passwordInput}
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
          />
        </label>
        <ErrorBanner error={error} />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
      <p className="muted">
        No account yet? Ask your Lathe admin for one. Setting up a new server? The site admin is
        created on its first start, and its password is printed once in the server's output.
      </p>
    </section>
  );
}

// A refused sign-in in the words of the sign-in form (the API's generic "not signed in" reads
// oddly on the page where one signs in).
function signInError(err: unknown): unknown {
  if (err instanceof ApiError && err.status === 401) {
    const reason = /wrong username or password/i.test(err.message)
      ? "Wrong username or password. Check both (the password is case-sensitive) and try again."
      : `${err.message.charAt(0).toUpperCase()}${err.message.slice(1)}.`;
    return new Error(reason);
  }
  return err;
}
