// Site administration: users (create, disable, make admin), quotas with the pool's capacity,
// the audit log, the runtimes and the resource profiles.
import { useEffect, useState, type FormEvent } from "react";
import { NavLink, Navigate, Route, Routes } from "react-router-dom";

import { api, ApiError, listPage } from "../api/client";
import {
  deleteProfile,
  listProfiles,
  listRuntimes,
  putProfile,
  type ResourceProfile,
  type Runtimes as RuntimesBody,
} from "../api/governance";
import type { User } from "../api/types";
import { Empty, ErrorBanner, Loading, Pager, usePagedList } from "../components/common";
import { formatTime } from "../lib/format";
import { checkProfile, type ProfileDraft } from "../lib/governance";
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


// The kernels workloads can run (the server's `kernels` setting) and the named sizes users pick
// from (resource profiles, which site admins create, edit and delete here).
function Runtimes() {
  const [runtimes, setRuntimes] = useState<RuntimesBody | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    listRuntimes().then(setRuntimes).catch(setError);
  }, []);
  return (
    <>
      <ErrorBanner error={error} />
      <section className="card" aria-label="Runtimes">
        <h2>Runtimes</h2>
        {!runtimes ? (
          !error && <Loading what="Loading runtimes" />
        ) : runtimes.runtimes.length === 0 ? (
          <Empty title="No runtimes: jobs and models have no interpreter to run.">
            <p>
              Add one to the server's <code>kernels</code> setting, then restart the server (see below).
            </p>
          </Empty>
        ) : (
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
        )}
        <p className="muted small-text" data-testid="runtimes-source">
          Runtimes come from the server's configuration, not from this page: the <code>kernels</code> setting
          (<code>--kernels</code>, <code>LATHE_KERNELS</code>, or <code>kernels:</code> in the configuration file), a
          list of <code>name=/absolute/path/to/interpreter</code> pairs separated by commas. To add one, install the
          interpreter on the machines that run workloads, add it to the list (for example{" "}
          <code>kernels: python3=/usr/bin/python3,r=/usr/bin/Rscript,bash=/bin/bash,sh=/bin/sh</code>) and restart the
          server. See <code>docs/configuration.md</code>.
        </p>
        {runtimes && (
          <p className="muted small-text">
            Largest workload: {runtimes.max_workload.cpu} vCPU, {runtimes.max_workload.memory} GiB,{" "}
            {runtimes.max_workload.nvidia_gpu} GPUs (the <code>max_workload_millicores</code> and{" "}
            <code>max_workload_mib</code> settings; GPUs are the ones the server found).
          </p>
        )}
      </section>
      <ResourceProfiles limits={runtimes?.max_workload ?? null} />
    </>
  );
}

const emptyDraft: ProfileDraft = { name: "", cpu: "1", memory: "2", nvidia_gpu: "0" };

function ResourceProfiles({ limits }: { limits: ResourceProfile | null }) {
  const [profiles, setProfiles] = useState<ResourceProfile[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [version, setVersion] = useState(0);
  // The form: closed, a new profile, or the profile being edited (its name fixed).
  const [editing, setEditing] = useState<{ mode: "new" } | { mode: "edit"; name: string } | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [notice, setNotice] = useState("");

  useEffect(() => {
    // A reload keeps the error that caused it on screen.
    listProfiles().then(setProfiles).catch(setError);
  }, [version]);

  const remove = async (name: string) => {
    setError(null);
    setNotice("");
    try {
      await deleteProfile(name);
      setConfirming(null);
      setNotice(`Deleted the profile ${name}.`);
    } catch (err) {
      setError(
        err instanceof ApiError && err.code === "not_found"
          ? new Error(`The profile ${name} no longer exists: someone may have deleted it already. The list is reloaded.`)
          : err,
      );
    }
    setVersion((v) => v + 1);
  };

  return (
    <section className="card" aria-label="Resource profiles">
      <div className="title-row">
        <h2>Resource profiles</h2>
        {!editing && (
          <button type="button" className="primary" onClick={() => setEditing({ mode: "new" })}>
            New profile
          </button>
        )}
      </div>
      <p className="muted small-text">
        Named sizes that users pick when they create a job or deploy a model, instead of typing vCPU and memory.
        Jobs and deployments keep the size a profile gave them when the profile is changed or deleted later.
      </p>
      {editing && (
        <ProfileForm
          key={editing.mode === "edit" ? `edit-${editing.name}` : "new"}
          initial={
            editing.mode === "edit"
              ? profileDraft(profiles?.find((p) => p.name === editing.name))
              : emptyDraft
          }
          editing={editing.mode === "edit"}
          existing={(profiles ?? []).map((p) => p.name)}
          limits={limits}
          onCancel={() => setEditing(null)}
          onSaved={(p) => {
            setEditing(null);
            setNotice(editing.mode === "edit" ? `Saved the profile ${p.name}.` : `Created the profile ${p.name}.`);
            setVersion((v) => v + 1);
          }}
        />
      )}
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      {profiles === null ? (
        !error && <Loading what="Loading profiles" />
      ) : profiles.length === 0 ? (
        <Empty title="No resource profiles yet.">
          <p>
            Create one with <strong>New profile</strong>, for example <em>small</em> with 1 vCPU and 2 GiB, so users can
            pick a size by name for their jobs and deployments.
          </p>
        </Empty>
      ) : (
        <table className="list compact" aria-label="Resource profiles">
          <thead>
            <tr>
              <th scope="col">Profile</th>
              <th scope="col">vCPU</th>
              <th scope="col">Memory (GiB)</th>
              <th scope="col">GPUs</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {profiles.map((p) => (
              <tr key={p.name}>
                <td>{p.name}</td>
                <td>{p.cpu}</td>
                <td>{p.memory}</td>
                <td>{p.nvidia_gpu}</td>
                <td className="actions">
                  {confirming === p.name ? (
                    <span role="group" aria-label={`Confirm deleting ${p.name}`}>
                      <span>Delete {p.name}? </span>
                      <button type="button" className="danger" onClick={() => void remove(p.name)}>
                        Yes, delete<span className="visually-hidden"> the profile {p.name}</span>
                      </button>{" "}
                      <button type="button" onClick={() => setConfirming(null)}>
                        Keep it
                      </button>
                    </span>
                  ) : (
                    <>
                      <button
                        type="button"
                        className="link"
                        onClick={() => {
                          setNotice("");
                          setEditing({ mode: "edit", name: p.name });
                        }}
                      >
                        Edit<span className="visually-hidden"> the profile {p.name}</span>
                      </button>
                      <button
                        type="button"
                        className="link danger"
                        onClick={() => {
                          setNotice("");
                          setConfirming(p.name);
                        }}
                      >
                        Delete<span className="visually-hidden"> the profile {p.name}</span>
                      </button>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function profileDraft(p: ResourceProfile | undefined): ProfileDraft {
  return p ? { name: p.name, cpu: String(p.cpu), memory: String(p.memory), nvidia_gpu: String(p.nvidia_gpu) } : emptyDraft;
}

function ProfileForm({
  initial,
  editing,
  existing,
  limits,
  onCancel,
  onSaved,
}: {
  initial: ProfileDraft;
  editing: boolean;
  existing: string[];
  limits: ResourceProfile | null;
  onCancel: () => void;
  onSaved: (p: ResourceProfile) => void;
}) {
  const [draft, setDraft] = useState<ProfileDraft>(initial);
  const [touched, setTouched] = useState<Partial<Record<keyof ProfileDraft, boolean>>>({});
  const [submitted, setSubmitted] = useState(false);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const checked = checkProfile(draft, limits, editing ? [] : existing);
  const shown = (f: keyof ProfileDraft) => (submitted || touched[f] ? checked.errors[f] : undefined);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setSubmitted(true);
    if (!checked.value) {
      return;
    }
    setSaving(true);
    setError(null);
    try {
      onSaved(await putProfile(checked.value));
    } catch (err) {
      setError(err);
      setSaving(false);
    }
  };

  const field = (f: keyof ProfileDraft, label: string, props: Record<string, unknown> = {}) => {
    const message = shown(f);
    const warning = checked.warnings[f];
    return (
      <label>
        {label}
        <input
          value={draft[f]}
          onChange={(e) => setDraft((d) => ({ ...d, [f]: e.target.value }))}
          onBlur={() => setTouched((t) => ({ ...t, [f]: true }))}
          aria-invalid={message ? true : undefined}
          aria-describedby={message || warning ? `profile-${f}-help` : undefined}
          {...props}
        />
        {(message || warning) && (
          <span id={`profile-${f}-help`} className="small-text" style={message ? { color: "var(--bad)" } : undefined}>
            {message ?? warning}
          </span>
        )}
      </label>
    );
  };

  return (
    <form className="card" onSubmit={submit} noValidate aria-label={editing ? `Edit the profile ${initial.name}` : "New resource profile"}>
      <h3>{editing ? `Edit ${initial.name}` : "New resource profile"}</h3>
      {/* Top-aligned: a field's message below it must not push the others up. */}
      <div className="row" style={{ alignItems: "flex-start" }}>
        {field("name", "Profile name", { readOnly: editing, autoComplete: "off", maxLength: 64 })}
        {field("cpu", "vCPU", { inputMode: "decimal" })}
        {field("memory", "Memory (GiB)", { inputMode: "decimal" })}
        {field("nvidia_gpu", "GPUs", { inputMode: "numeric" })}
      </div>
      {editing && <p className="muted small-text">To rename a profile, create one with the new name and delete this one.</p>}
      {limits && (
        <p className="muted small-text">
          Up to {limits.cpu} vCPU and {limits.memory} GiB per workload on this server.
        </p>
      )}
      <ErrorBanner error={error} />
      <div className="buttons">
        <button type="submit" className="primary" disabled={saving}>
          {saving ? "Saving…" : editing ? "Save profile" : "Create profile"}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
