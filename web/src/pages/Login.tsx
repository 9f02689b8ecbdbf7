// Sign in with a username and password (a browser session).
import { useState, type FormEvent } from "react";

import { ErrorBanner } from "../components/common";
import { useSession } from "../session";

export function LoginPage() {
  const { signIn } = useSession();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      // Signed in: the /login route sends the browser on (see AfterSignIn).
      await signIn(username.trim(), password);
    } catch (err) {
      setError(err);
      setBusy(false);
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
        First time? The site admin is created on the server's first start; its password is printed
        once in the server's output.
      </p>
    </section>
  );
}
