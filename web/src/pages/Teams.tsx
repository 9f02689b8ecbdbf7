// Teams: create one, and manage its members and their roles (a team can own projects).
import { useEffect, useState, type FormEvent } from "react";

import { api, listPage } from "../api/client";
import { Empty, ErrorBanner, Loading, Pager, usePagedList } from "../components/common";
import { formatTime } from "../lib/format";

interface Team {
  name: string;
  description: string;
  created_at: string;
}

interface Member {
  username: string;
  role: string;
}

const ROLES = ["Viewer", "Operator", "Contributor", "Admin"];

export function TeamsPage() {
  const list = usePagedList<Team>((p) => listPage<Team>("/api/v2/teams", "teams", { ...p, sort: "name" }), []);
  const [open, setOpen] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [error, setError] = useState<unknown>(null);

  const remove = async (t: Team) => {
    if (!window.confirm(`Delete the team ${t.name}? Its members lose the roles it gave them.`)) {
      return;
    }
    setError(null);
    try {
      await api("DELETE", `/api/v2/teams/${encodeURIComponent(t.name)}`);
      if (open === t.name) setOpen(null);
      list.reload();
    } catch (err) {
      setError(err);
    }
  };

  const create = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const t = await api<Team>("POST", "/api/v2/teams", { body: { name: name.trim(), description } });
      setName("");
      setDescription("");
      setOpen(t.name);
      list.reload();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section>
      <h1>Teams</h1>
      <p>A team shares projects: its members get their team role in every project the team owns.</p>
      <form className="card" onSubmit={create} aria-label="New team">
        <div className="row">
          <label>
            Team name
            <input value={name} onChange={(e) => setName(e.target.value)} required />
          </label>
          <label>
            Description <span className="muted">(optional)</span>
            <input value={description} onChange={(e) => setDescription(e.target.value)} />
          </label>
        </div>
        <button type="submit" className="primary">
          Create team
        </button>
      </form>
      <ErrorBanner error={error || list.error} />
      {list.loading && !list.items.length ? (
        <Loading what="Loading teams" />
      ) : list.items.length === 0 ? (
        <Empty title="No teams yet.">
          <p>Create one above, add its members, then create projects owned by it.</p>
        </Empty>
      ) : (
        list.items.map((t) => (
          <article key={t.name} className="card" aria-label={`Team ${t.name}`}>
            <div className="title-row">
              <h2>{t.name}</h2>
              <button type="button" onClick={() => setOpen(open === t.name ? null : t.name)} aria-expanded={open === t.name}>
                {open === t.name ? "Hide members" : "Members"}
                <span className="visually-hidden"> of {t.name}</span>
              </button>
              <button type="button" className="danger" onClick={() => void remove(t)}>
                Delete<span className="visually-hidden"> the team {t.name}</span>
              </button>
            </div>
            <p className="muted">
              {t.description} {t.description ? "· " : ""}created {formatTime(t.created_at)}
            </p>
            {open === t.name && <Members team={t.name} />}
          </article>
        ))
      )}
      <Pager list={list} label="Teams" />
    </section>
  );
}

function Members({ team }: { team: string }) {
  const base = `/api/v2/teams/${encodeURIComponent(team)}/members`;
  const [members, setMembers] = useState<Member[] | null>(null);
  const [version, setVersion] = useState(0);
  const [username, setUsername] = useState("");
  const [role, setRole] = useState("Contributor");
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    listPage<Member>(base, "members", { pageSize: 1000 })
      .then((p) => setMembers(p.items))
      .catch(setError);
  }, [base, version]);

  const put = async (name: string, r: string) => {
    setError(null);
    try {
      await api("PUT", `${base}/${encodeURIComponent(name)}`, { body: { role: r } });
      setVersion((v) => v + 1);
      return true;
    } catch (e) {
      setError(e);
      return false;
    }
  };
  const remove = async (m: Member) => {
    if (!window.confirm(`Remove ${m.username} from the team ${team}?`)) {
      return;
    }
    setError(null);
    try {
      await api("DELETE", `${base}/${encodeURIComponent(m.username)}`);
      setVersion((v) => v + 1);
    } catch (e) {
      setError(e);
    }
  };

  return (
    <>
      <form
        className="inline-form"
        aria-label={`Add a member to ${team}`}
        onSubmit={async (e) => {
          e.preventDefault();
          if (await put(username.trim(), role)) {
            setUsername("");
          }
        }}
      >
        <label className="inline">
          Username
          <input value={username} onChange={(e) => setUsername(e.target.value)} required />
        </label>
        <label className="inline">
          Role
          <select value={role} onChange={(e) => setRole(e.target.value)}>
            {ROLES.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </label>
        <button type="submit">Add member</button>
      </form>
      <ErrorBanner error={error} />
      {members === null ? (
        <Loading what="Loading members" />
      ) : (
        <table className="list compact">
          <caption className="visually-hidden">Members of {team}</caption>
          <thead>
            <tr>
              <th scope="col">Member</th>
              <th scope="col">Role</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {members.map((m) => (
              <tr key={m.username}>
                <td>{m.username}</td>
                <td>
                  <select aria-label={`Role of ${m.username} in ${team}`} value={m.role} onChange={(e) => void put(m.username, e.target.value)}>
                    {ROLES.map((r) => (
                      <option key={r}>{r}</option>
                    ))}
                  </select>
                </td>
                <td className="actions">
                  <button type="button" className="link danger" onClick={() => void remove(m)}>
                    Remove<span className="visually-hidden"> {m.username}</span>
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
