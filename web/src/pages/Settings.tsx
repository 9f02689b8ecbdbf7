// My settings: display name, email and password.
import { useState, type FormEvent } from "react";

import { api } from "../api/client";
import type { User } from "../api/types";
import { ErrorBanner } from "../components/common";
import { useSession } from "../session";

export function SettingsPage() {
  const { user, refresh } = useSession();
  const me = user!;
  const path = `/api/v2/users/${encodeURIComponent(me.username)}`;
  const [displayName, setDisplayName] = useState(me.display_name);
  const [email, setEmail] = useState(me.email);
  const [profileError, setProfileError] = useState<unknown>(null);
  const [profileSaved, setProfileSaved] = useState(false);
  const [current, setCurrent] = useState("");
  const [password, setPassword] = useState("");
  const [repeat, setRepeat] = useState("");
  const [passwordError, setPasswordError] = useState<unknown>(null);
  const [passwordSaved, setPasswordSaved] = useState(false);

  const saveProfile = async (e: FormEvent) => {
    e.preventDefault();
    setProfileError(null);
    setProfileSaved(false);
    try {
      await api<User>("PATCH", path, { body: { display_name: displayName, email } });
      setProfileSaved(true);
      refresh();
    } catch (err) {
      setProfileError(err);
    }
  };
  const savePassword = async (e: FormEvent) => {
    e.preventDefault();
    setPasswordError(null);
    setPasswordSaved(false);
    if (password !== repeat) {
      setPasswordError(new Error("The two new passwords differ: type the same one twice."));
      return;
    }
    try {
      await api("PATCH", path, { body: { password, current_password: current } });
      setPasswordSaved(true);
      setCurrent("");
      setPassword("");
      setRepeat("");
    } catch (err) {
      setPasswordError(err);
    }
  };

  return (
    <section>
      <h1>My settings</h1>
      <form className="card" onSubmit={saveProfile} aria-label="Profile">
        <h2>Profile</h2>
        <p className="muted">
          Username <strong>{me.username}</strong>
          {me.is_admin ? ", site admin" : ""}
        </p>
        <div className="row">
          <label>
            Display name
            <input value={displayName} onChange={(e) => setDisplayName(e.target.value)} />
          </label>
          <label>
            Email
            <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} />
          </label>
        </div>
        <ErrorBanner error={profileError} />
        {profileSaved && <p role="status">Saved.</p>}
        <button type="submit" className="primary">
          Save profile
        </button>
      </form>
      <form className="card" onSubmit={savePassword} aria-label="Change password">
        <h2>Password</h2>
        <div className="row">
          <label>
            Current password
            <input type="password" value={current} onChange={(e) => setCurrent(e.target.value)} required autoComplete="current-password" />
          </label>
          <label>
            New password
            <input type="password" value={password} onChange={(e) => setPassword(e.target.value)} required autoComplete="new-password" />
          </label>
          <label>
            New password again
            <input type="password" value={repeat} onChange={(e) => setRepeat(e.target.value)} required autoComplete="new-password" />
          </label>
        </div>
        <ErrorBanner error={passwordError} />
        {passwordSaved && <p role="status">Your password is changed.</p>}
        <button type="submit" className="primary">
          Change password
        </button>
      </form>
    </section>
  );
}
