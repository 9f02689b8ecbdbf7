// The projects the user can see: search, pages, and creating one (owned by the user or a team).
import { useEffect, useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router-dom";

import { api, listPage } from "../api/client";
import type { Project } from "../api/types";
import { Empty, ErrorBanner, Loading, Pager, usePagedList } from "../components/common";
import { formatTime } from "../lib/format";

interface Team {
  name: string;
}

export function ProjectsPage() {
  const [search, setSearch] = useState("");
  const [query, setQuery] = useState("");
  const [creating, setCreating] = useState(false);

  // Search as the user types, without a request per keystroke.
  useEffect(() => {
    const id = window.setTimeout(() => setQuery(search.trim()), 250);
    return () => window.clearTimeout(id);
  }, [search]);

  const list = usePagedList<Project>(
    (p) => listPage<Project>("/api/v2/projects", "projects", { ...p, filter: query ? { name: query } : undefined, sort: "name" }),
    [query],
  );

  return (
    <section>
      <div className="title-row">
        <h1>Projects</h1>
        <button type="button" className="primary" onClick={() => setCreating((c) => !c)} aria-expanded={creating}>
          New project
        </button>
      </div>
      {creating && <CreateProject onCancel={() => setCreating(false)} />}
      <div className="toolbar">
        <label className="inline">
          Search projects
          <input type="search" value={search} onChange={(e) => setSearch(e.target.value)} placeholder="name contains…" />
        </label>
      </div>
      <ErrorBanner error={list.error} />
      {list.loading && !list.items.length ? (
        <Loading what="Loading projects" />
      ) : list.items.length === 0 ? (
        query ? (
          <Empty title={`No project's name contains “${query}”.`}>
            <p>Try another search, or clear it to see every project you can open.</p>
          </Empty>
        ) : (
          <Empty title="You have no projects yet.">
            <p>
              A project holds your code and data files, the jobs that run them and the models that serve them as REST
              endpoints (like a CML project). Create one, then upload your scripts to it: the project page guides you
              from there to a deployed model.
            </p>
            {!creating && (
              <button type="button" className="primary" onClick={() => setCreating(true)}>
                Create your first project
              </button>
            )}
          </Empty>
        )
      ) : (
        <table className="list">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Owner</th>
              <th scope="col">Your role</th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((p) => (
              <tr key={p.id}>
                <td>
                  <Link to={`/projects/${p.id}`}>{p.name}</Link>
                  {p.description && <div className="muted small-text">{p.description}</div>}
                </td>
                <td>
                  {p.owner.name}
                  {p.owner.type === "team" ? " (team)" : ""}
                </td>
                <td>{p.my_role}</td>
                <td>{formatTime(p.updated_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager list={list} label="Projects" />
    </section>
  );
}

function CreateProject({ onCancel }: { onCancel: () => void }) {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [owner, setOwner] = useState("");
  const [teams, setTeams] = useState<Team[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const navigate = useNavigate();

  useEffect(() => {
    listPage<Team>("/api/v2/teams", "teams", { pageSize: 100 })
      .then((p) => setTeams(p.items))
      .catch(() => setTeams([]));
  }, []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body: Record<string, string> = { name: name.trim(), description };
      if (owner) {
        body.team = owner;
      }
      const p = await api<Project>("POST", "/api/v2/projects", { body });
      navigate(`/projects/${p.id}`);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <form className="card" onSubmit={submit} aria-label="New project">
      <h2>New project</h2>
      <label>
        Name
        <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={100} autoFocus />
      </label>
      <label>
        Description <span className="muted">(optional)</span>
        <textarea value={description} onChange={(e) => setDescription(e.target.value)} rows={2} />
      </label>
      <label>
        Owner
        <select value={owner} onChange={(e) => setOwner(e.target.value)}>
          <option value="">Me</option>
          {teams.map((t) => (
            <option key={t.name} value={t.name}>
              Team {t.name}
            </option>
          ))}
        </select>
      </label>
      <ErrorBanner error={error} />
      <div className="buttons">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Creating…" : "Create project"}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
