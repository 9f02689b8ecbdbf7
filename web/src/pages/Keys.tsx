// My API keys: create one (shown once), see when each was last used, revoke it.
import { useState, type FormEvent } from "react";

import { api, listPage } from "../api/client";
import type { ApiKey } from "../api/types";
import { CopyButton, Empty, ErrorBanner, Loading, Pager, usePagedList } from "../components/common";
import { formatTime } from "../lib/format";
import { useSession } from "../session";

// A key made on a model's Test tab calls that model only (the API names its model).
type Key = ApiKey & { model_id?: number | null };

export function KeysPage() {
  const { user } = useSession();
  const base = `/api/v2/users/${encodeURIComponent(user!.username)}/keys`;
  const list = usePagedList<Key>((p) => listPage<Key>(base, "keys", p), [base]);
  const [name, setName] = useState("");
  const [days, setDays] = useState("");
  const [created, setCreated] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const body: Record<string, unknown> = { name: name.trim() };
      if (days) {
        body.expires_in_days = Number(days);
      }
      const k = await api<ApiKey & { key: string }>("POST", base, { body });
      setCreated(k.key);
      setName("");
      list.reload();
    } catch (err) {
      setError(err);
    }
  };

  const revoke = async (k: Key) => {
    if (!window.confirm(`Revoke the key “${k.name}”? Scripts using it stop working at once.`)) {
      return;
    }
    setError(null);
    try {
      await api("DELETE", `${base}/${k.id}`);
      list.reload();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section>
      <h1>API keys</h1>
      <p>
        Scripts, the <code>lathe</code> command and models with authentication use an API key: send it as{" "}
        <code>Authorization: Bearer &lt;key&gt;</code>. A key made here acts as you, with everything you may do; to
        let someone call one model and nothing else, make a model API key on that model's <strong>Test</strong> tab
        instead.
      </p>
      <form className="card" onSubmit={create} aria-label="New API key">
        <div className="row">
          <label>
            Name
            <input value={name} onChange={(e) => setName(e.target.value)} required placeholder="laptop" />
          </label>
          <label>
            Expires after (days, empty: never)
            <input type="number" min={1} value={days} onChange={(e) => setDays(e.target.value)} />
          </label>
        </div>
        <button type="submit" className="primary">
          Create key
        </button>
      </form>
      {created && (
        <div className="notice" role="status">
          <p>
            Your new key (copy it now: it is not shown again): <code data-testid="new-key">{created}</code>{" "}
            <CopyButton text={created} label="Copy the new key" />
          </p>
        </div>
      )}
      <ErrorBanner error={error || list.error} />
      {list.loading && !list.items.length ? (
        <Loading what="Loading keys" />
      ) : list.items.length === 0 ? (
        <Empty title="You have no API keys." />
      ) : (
        <table className="list">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Works for</th>
              <th scope="col">Starts with</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">Expires</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((k) => (
              <tr key={k.id}>
                <td>{k.name}</td>
                <td>{k.model_id ? `one model only (model ${k.model_id})` : "everything you may do"}</td>
                <td>
                  <code>{k.prefix}</code>
                </td>
                <td>{formatTime(k.created_at)}</td>
                <td>{k.last_used_at ? formatTime(k.last_used_at) : "never"}</td>
                <td>{k.expires_at ? formatTime(k.expires_at) : "never"}</td>
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
      <Pager list={list} label="Keys" />
    </section>
  );
}
