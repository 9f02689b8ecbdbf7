// Site administration: users (create, disable, make admin), quotas with the pool's capacity,
// and the audit log.
import { useEffect, useState, type FormEvent } from "react";
import { NavLink, Navigate, Route, Routes } from "react-router-dom";

import { api, listPage } from "../api/client";
import type { User } from "../api/types";
import { Empty, ErrorBanner, Loading, Pager, usePagedList } from "../components/common";
import { formatTime } from "../lib/format";
import { useSession } from "../session";

export function AdminPage() {
  const { user } = useSession();
  if (!user?.is_admin) {
    return (
      <section>
        <h1>Administration</h1>
        <p>Only site admins can see this page.</p>
      </section>
    );
  }
  return (
    <section>
      <h1>Administration</h1>
      <nav className="tabs" aria-label="Administration">
        <NavLink to="/admin/users">Users</NavLink>
        <NavLink to="/admin/quotas">Quotas</NavLink>
        <NavLink to="/admin/audit">Audit log</NavLink>
        <NavLink to="/admin/runtimes">Runtimes and profiles</NavLink>
      </nav>
      <Routes>
        <Route index element={<Navigate to="/admin/users" replace />} />
        <Route path="users" element={<Users />} />
        <Route path="quotas" element={<Quotas />} />
        <Route path="audit" element={<Audit />} />
        <Route path="runtimes" element={<Runtimes />} />
      </Routes>
    </section>
  );
}

function Users() {
  const { user: me } = useSession();
  const [search, setSearch] = useState("");
  const [query, setQuery] = useState("");
  useEffect(() => {
    const id = window.setTimeout(() => setQuery(search.trim()), 250);
    return () => window.clearTimeout(id);
  }, [search]);
  const list = usePagedList<User>(
    (p) => listPage<User>("/api/v2/users", "users", { ...p, filter: query ? { username: query } : undefined, sort: "username" }),
    [query],
  );
  const [error, setError] = useState<unknown>(null);
  const [creating, setCreating] = useState(false);
  const [reset, setReset] = useState<{ username: string; password: string } | null>(null);

  // A new random password, set by the admin and shown once for them to pass on.
  const resetPassword = async (u: User) => {
    if (!window.confirm(`Give ${u.username} a new random password? Their current one stops working.`)) {
      return;
    }
    const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
    const bytes = crypto.getRandomValues(new Uint8Array(20));
    const password = Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
    setError(null);
    try {
      await api("PATCH", `/api/v2/users/${encodeURIComponent(u.username)}`, { body: { password } });
      setReset({ username: u.username, password });
    } catch (e) {
      setError(e);
    }
  };

  const patch = async (u: User, fields: Partial<User>) => {
    setError(null);
    try {
      await api("PATCH", `/api/v2/users/${encodeURIComponent(u.username)}`, { body: fields });
      list.reload();
    } catch (e) {
      setError(e);
    }
  };

  return (
    <>
      <div className="toolbar">
        <label className="inline">
          Search users
          <input type="search" value={search} onChange={(e) => setSearch(e.target.value)} />
        </label>
        <button type="button" className="primary" onClick={() => setCreating((c) => !c)} aria-expanded={creating}>
          New user
        </button>
      </div>
      {creating && (
        <CreateUser
          onDone={() => {
            setCreating(false);
            list.reload();
          }}
        />
      )}
      {reset && (
        <div className="notice" role="status">
          New password of {reset.username} (shown once; they can change it in My settings):{" "}
          <code data-testid="reset-password">{reset.password}</code>
        </div>
      )}
      <ErrorBanner error={error || list.error} />
      {list.loading && !list.items.length ? (
        <Loading what="Loading users" />
      ) : list.items.length === 0 ? (
        <Empty title="No user matches." />
      ) : (
        <table className="list">
          <thead>
            <tr>
              <th scope="col">User</th>
              <th scope="col">Email</th>
              <th scope="col">Role</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((u) => (
              <tr key={u.username}>
                <td>
                  {u.username}
                  {u.display_name && <div className="muted small-text">{u.display_name}</div>}
                </td>
                <td>{u.email}</td>
                <td>
                  {u.is_admin ? "site admin" : "user"}
                  {u.disabled ? <span className="badge badge-bad">disabled</span> : null}
                </td>
                <td>{formatTime(u.created_at)}</td>
                <td className="actions">
                  {u.username !== me?.username && (
                    <>
                      <button type="button" onClick={() => void patch(u, { disabled: !u.disabled })}>
                        {u.disabled ? "Enable" : "Disable"}
                        <span className="visually-hidden"> {u.username}</span>
                      </button>
                      <button type="button" onClick={() => void patch(u, { is_admin: !u.is_admin })}>
                        {u.is_admin ? "Remove admin" : "Make admin"}
                        <span className="visually-hidden"> {u.username}</span>
                      </button>
                      <button type="button" onClick={() => void resetPassword(u)}>
                        Reset password<span className="visually-hidden"> of {u.username}</span>
                      </button>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager list={list} label="Users" />
    </>
  );
}

function CreateUser({ onDone }: { onDone: () => void }) {
  const [username, setUsername] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [isAdmin, setIsAdmin] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      await api("POST", "/api/v2/users", {
        body: { username: username.trim(), display_name: displayName, email, password, is_admin: isAdmin },
      });
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form className="card" onSubmit={submit} aria-label="New user">
      <div className="row">
        <label>
          Username
          <input value={username} onChange={(e) => setUsername(e.target.value)} required autoComplete="off" />
        </label>
        <label>
          Display name
          <input value={displayName} onChange={(e) => setDisplayName(e.target.value)} />
        </label>
        <label>
          Email
          <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} />
        </label>
        <label>
          Password
          <input type="password" value={password} onChange={(e) => setPassword(e.target.value)} required autoComplete="new-password" />
        </label>
      </div>
      <label className="inline">
        <input type="checkbox" checked={isAdmin} onChange={(e) => setIsAdmin(e.target.checked)} />
        Site admin
      </label>
      <ErrorBanner error={error} />
      <button type="submit" className="primary">
        Create user
      </button>
    </form>
  );
}

interface Quota {
  subject_type: "user" | "team" | "default" | string;
  subject: string;
  cpu: number;
  memory: number;
  nvidia_gpu: number;
}

interface Pool {
  cpu: number;
  cpu_used: number;
  memory: number;
  memory_used: number;
  nvidia_gpu: number;
  nvidia_gpu_used: number;
}

function Quotas() {
  const [quotas, setQuotas] = useState<Quota[] | null>(null);
  const [pool, setPool] = useState<Pool | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [version, setVersion] = useState(0);
  const [subjectType, setSubjectType] = useState("user");
  const [subject, setSubject] = useState("");
  const [cpu, setCpu] = useState(2);
  const [memory, setMemory] = useState(4);
  const [gpu, setGpu] = useState(0);

  useEffect(() => {
    api<{ quotas: Quota[]; pool: Pool }>("GET", "/api/v2/quotas", { query: { page_size: 1000 } })
      .then((r) => {
        setQuotas(r.quotas);
        setPool(r.pool);
      })
      .catch(setError);
  }, [version]);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      await api("PUT", `/api/v2/quotas/${encodeURIComponent(subjectType)}/${encodeURIComponent(subjectType === "default" ? "user" : subject.trim())}`, {
        body: { cpu, memory, nvidia_gpu: gpu },
      });
      setVersion((v) => v + 1);
    } catch (err) {
      setError(err);
    }
  };

  return (
    <>
      {pool && (
        <section className="card" aria-label="Compute pool">
          <h2>Compute pool</h2>
          <dl className="tiles">
            <div>
              <dt>vCPU in use</dt>
              <dd>
                {pool.cpu_used.toFixed(1)} of {pool.cpu.toFixed(1)}
              </dd>
            </div>
            <div>
              <dt>Memory in use (GiB)</dt>
              <dd>
                {pool.memory_used.toFixed(1)} of {pool.memory.toFixed(1)}
              </dd>
            </div>
            <div>
              <dt>GPUs in use</dt>
              <dd>
                {pool.nvidia_gpu_used} of {pool.nvidia_gpu}
              </dd>
            </div>
          </dl>
        </section>
      )}
      <form className="card" onSubmit={save} aria-label="Set a quota">
        <h2>Set a quota</h2>
        <div className="row">
          <label>
            For
            <select value={subjectType} onChange={(e) => setSubjectType(e.target.value)}>
              <option value="user">a user</option>
              <option value="team">a team</option>
              <option value="default">every user (default)</option>
            </select>
          </label>
          {subjectType !== "default" && (
            <label>
              {subjectType === "team" ? "Team" : "Username"}
              <input value={subject} onChange={(e) => setSubject(e.target.value)} required />
            </label>
          )}
          <label>
            vCPU
            <input type="number" min={0} step="any" value={cpu} onChange={(e) => setCpu(Number(e.target.value))} />
          </label>
          <label>
            Memory (GiB)
            <input type="number" min={0} step="any" value={memory} onChange={(e) => setMemory(Number(e.target.value))} />
          </label>
          <label>
            GPUs
            <input type="number" min={0} step={1} value={gpu} onChange={(e) => setGpu(Number(e.target.value))} />
          </label>
        </div>
        <button type="submit" className="primary">
          Save quota
        </button>
      </form>
      <ErrorBanner error={error} />
      {quotas === null ? (
        <Loading what="Loading quotas" />
      ) : quotas.length === 0 ? (
        <Empty title="No quotas: everyone may use the whole pool." />
      ) : (
        <table className="list">
          <thead>
            <tr>
              <th scope="col">Applies to</th>
              <th scope="col">vCPU</th>
              <th scope="col">Memory (GiB)</th>
              <th scope="col">GPUs</th>
            </tr>
          </thead>
          <tbody>
            {quotas.map((q) => (
              <tr key={`${q.subject_type}/${q.subject}`}>
                <td>{q.subject_type === "default" ? "every user (default)" : `${q.subject_type} ${q.subject}`}</td>
                <td>{q.cpu}</td>
                <td>{q.memory}</td>
                <td>{q.nvidia_gpu}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

interface AuditEvent {
  id: number;
  time: string;
  actor: string;
  action: string;
  target: string;
  status: number;
  address: string;
  request_id: string;
}

function Audit() {
  const [actor, setActor] = useState("");
  const [query, setQuery] = useState("");
  useEffect(() => {
    const id = window.setTimeout(() => setQuery(actor.trim()), 250);
    return () => window.clearTimeout(id);
  }, [actor]);
  const list = usePagedList<AuditEvent>(
    (p) => listPage<AuditEvent>("/api/v2/audit", "events", { ...p, filter: query ? { actor: query } : undefined }),
    [query],
    50,
  );
  return (
    <>
      <div className="toolbar">
        <label className="inline">
          Actor
          <input type="search" value={actor} onChange={(e) => setActor(e.target.value)} />
        </label>
      </div>
      <ErrorBanner error={list.error} />
      {list.loading && !list.items.length ? (
        <Loading what="Loading the audit log" />
      ) : list.items.length === 0 ? (
        <Empty title="No events." />
      ) : (
        <table className="list compact">
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Actor</th>
              <th scope="col">Action</th>
              <th scope="col">Target</th>
              <th scope="col">Status</th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((e) => (
              <tr key={e.id}>
                <td>{formatTime(e.time)}</td>
                <td>{e.actor}</td>
                <td>
                  <code>{e.action}</code>
                </td>
                <td>
                  <code>{e.target}</code>
                </td>
                <td>{e.status}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager list={list} label="Audit log" />
    </>
  );
}

interface Runtime {
  name: string;
  interpreter: string;
}

interface Profile {
  name: string;
  cpu: number;
  memory: number;
  nvidia_gpu: number;
}

// The kernels workloads can run and the named sizes users pick from (set in the server's
// configuration: see docs/configuration.md).
function Runtimes() {
  const [runtimes, setRuntimes] = useState<{ runtimes: Runtime[]; max_workload: Profile } | null>(null);
  const [profiles, setProfiles] = useState<Profile[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    api<{ runtimes: Runtime[]; max_workload: Profile }>("GET", "/api/v2/runtimes", { query: { page_size: 100 } })
      .then(setRuntimes)
      .catch(setError);
    listPage<Profile>("/api/v2/resource-profiles", "resource_profiles", { pageSize: 100 })
      .then((p) => setProfiles(p.items))
      .catch(setError);
  }, []);
  return (
    <>
      <ErrorBanner error={error} />
      <section className="card" aria-label="Runtimes">
        <h2>Runtimes</h2>
        {!runtimes ? (
          <Loading what="Loading runtimes" />
        ) : (
          <>
            <table className="list compact">
              <thead>
                <tr>
                  <th scope="col">Kernel</th>
                  <th scope="col">Interpreter</th>
                </tr>
              </thead>
              <tbody>
                {runtimes.runtimes.map((r) => (
                  <tr key={r.name}>
                    <td>{r.name}</td>
                    <td>
                      <code>{r.interpreter}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            <p className="muted">
              Largest workload: {runtimes.max_workload.cpu} vCPU, {runtimes.max_workload.memory} GiB, {runtimes.max_workload.nvidia_gpu} GPUs.
            </p>
          </>
        )}
      </section>
      <section className="card" aria-label="Resource profiles">
        <h2>Resource profiles</h2>
        {!profiles ? (
          <Loading what="Loading profiles" />
        ) : (
          <table className="list compact">
            <thead>
              <tr>
                <th scope="col">Profile</th>
                <th scope="col">vCPU</th>
                <th scope="col">Memory (GiB)</th>
                <th scope="col">GPUs</th>
              </tr>
            </thead>
            <tbody>
              {profiles.map((p) => (
                <tr key={p.name}>
                  <td>{p.name}</td>
                  <td>{p.cpu}</td>
                  <td>{p.memory}</td>
                  <td>{p.nvidia_gpu}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}
