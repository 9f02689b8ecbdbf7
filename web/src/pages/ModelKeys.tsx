// Model API keys: keys that call this one model and nothing else, for the teams that call it.
import { useCallback, useEffect, useState, type FormEvent } from "react";

import { api } from "../api/client";
import type { ApiKey, Model } from "../api/types";
import { CopyButton, ErrorBanner, Loading } from "../components/common";
import { formatTime } from "../lib/format";
import { useSession } from "../session";

// onCreated: the new key's secret, so a page can use it at once (the Test tab fills it in).
export function ModelKeys({ modelPath, model, onCreated }: { modelPath: string; model: Model; onCreated?: (key: string) => void }) {
  const { user } = useSession();
  const [keys, setKeys] = useState<ApiKey[] | null>(null);
  const [name, setName] = useState("");
  const [created, setCreated] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  const load = useCallback(() => {
    api<{ keys: ApiKey[] }>("GET", `${modelPath}/keys`, { query: { page_size: 1000 } })
      .then((r) => setKeys(r.keys))
      .catch(setError);
  }, [modelPath]);
  useEffect(load, [load]);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const k = await api<ApiKey & { key: string }>("POST", `${modelPath}/keys`, {
        body: name.trim() ? { name: name.trim() } : {},
      });
      setCreated(k.key);
      onCreated?.(k.key);
      setName("");
      load();
    } catch (err) {
      setError(err);
    }
  };
  const revoke = async (k: ApiKey) => {
    if (!window.confirm(`Revoke the key “${k.name}”? Callers using it are refused at once.`)) {
      return;
    }
    setError(null);
    try {
      await api("DELETE", `/api/v2/users/${encodeURIComponent(user!.username)}/keys/${k.id}`);
      load();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section className="card" aria-label="Model API keys">
      <h3>Model API keys</h3>
      <p className="muted">
        {model.auth_enabled
          ? "Callers of this model send an API key as Authorization: Bearer. A model API key calls this model only: nothing else in Lathe accepts it."
          : "This model takes calls without an API key; model API keys matter once its authentication is on."}
      </p>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      <form className="row" onSubmit={create} aria-label="New model API key">
        <label>
          Key name
          <input value={name} onChange={(e) => setName(e.target.value)} placeholder={`model ${model.name}`} />
        </label>
        <button type="submit">Create key</button>
      </form>
      {created && (
        <div className="notice" role="status">
          Your new key (copy it now: it is not shown again): <code data-testid="new-model-key">{created}</code>{" "}
          <CopyButton text={created} label="Copy the new model key" />
        </div>
      )}
      {keys === null ? (
        <Loading what="Loading keys" />
      ) : keys.length === 0 ? (
        <p className="muted">You have no keys for this model.</p>
      ) : (
        <table className="list compact" aria-label="Your keys for this model">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Starts with</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => (
              <tr key={k.id}>
                <td>{k.name}</td>
                <td>
                  <code>{k.prefix}</code>
                </td>
                <td>{formatTime(k.created_at)}</td>
                <td>{k.last_used_at ? formatTime(k.last_used_at) : "never"}</td>
                <td className="actions">
                  <button type="button" className="link danger" onClick={() => void revoke(k)}>
                    Revoke<span className="visually-hidden"> {k.name}</span>
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
