// A project's settings: its name, description and visibility (and deleting it), its
// collaborators and their roles, and its environment variables (hidden values are never shown
// again once set).
import { useState, type FormEvent } from "react";
import { useNavigate } from "react-router-dom";

import { api, listPage } from "../api/client";
import type { Project } from "../api/types";
import { Empty, ErrorBanner, Loading, Pager, usePagedList } from "../components/common";

const ROLES = ["Viewer", "Operator", "Contributor", "Admin"];

interface Collaborator {
  username: string;
  role: string;
}

interface EnvVar {
  name: string;
  value: string | null;
  hidden: boolean;
}

export function ProjectSettingsPage({ project }: { project: Project }) {
  return (
    <>
      {project.my_role === "Admin" && <About project={project} />}
      <Collaborators project={project} />
      <Environment project={project} />
    </>
  );
}

const VISIBILITIES: [string, string][] = [
  ["private", "Private: collaborators only"],
  ["team", "Team: also the owner's teammates, as Viewers"],
  ["public", "Public: every user, as Viewers"],
];

function About({ project }: { project: Project }) {
  const navigate = useNavigate();
  const [name, setName] = useState(project.name);
  const [description, setDescription] = useState(project.description);
  const [visibility, setVisibility] = useState(project.visibility);
  const [saved, setSaved] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setSaved(false);
    try {
      await api("PATCH", `/api/v2/projects/${project.id}`, {
        body: { name: name.trim(), description, visibility },
      });
      setSaved(true);
    } catch (err) {
      setError(err);
    }
  };
  const remove = async () => {
    if (
      window.prompt(
        `Deleting “${project.name}” removes its files, jobs, runs and models for good. Type the project's name to go on.`,
      ) !== project.name
    ) {
      return;
    }
    setError(null);
    try {
      await api("DELETE", `/api/v2/projects/${project.id}`);
      navigate("/projects");
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section className="card" aria-label="About this project">
      <h2>Project</h2>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      <form onSubmit={save}>
        <div className="row">
          <label>
            Project name
            <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={100} />
          </label>
          <label>
            Visibility
            <select value={visibility} onChange={(e) => setVisibility(e.target.value)}>
              {VISIBILITIES.map(([v, label]) => (
                <option key={v} value={v}>
                  {label}
                </option>
              ))}
            </select>
          </label>
        </div>
        <label>
          Description
          <input value={description} onChange={(e) => setDescription(e.target.value)} />
        </label>
        <button type="submit" className="primary">
          Save
        </button>{" "}
        {saved && (
          <span role="status" className="muted">
            Saved. Reload to see the new name everywhere.
          </span>
        )}
      </form>
      <p>
        <button type="button" className="danger" onClick={() => void remove()}>
          Delete this project…
        </button>{" "}
        <span className="muted">Stop its running jobs and deployments first.</span>
      </p>
    </section>
  );
}

function Collaborators({ project }: { project: Project }) {
  const base = `/api/v2/projects/${project.id}/collaborators`;
  const isAdmin = project.my_role === "Admin";
  const list = usePagedList<Collaborator>((p) => listPage<Collaborator>(base, "collaborators", p), [base]);
  const [username, setUsername] = useState("");
  const [role, setRole] = useState("Contributor");
  const [error, setError] = useState<unknown>(null);

  const put = async (name: string, r: string) => {
    setError(null);
    try {
      await api("PUT", `${base}/${encodeURIComponent(name)}`, { body: { role: r } });
      list.reload();
      return true;
    } catch (e) {
      setError(e);
      return false;
    }
  };
  const add = async (e: FormEvent) => {
    e.preventDefault();
    if (await put(username.trim(), role)) {
      setUsername("");
    }
  };
  const remove = async (c: Collaborator) => {
    if (!window.confirm(`Remove ${c.username} from ${project.name}?`)) {
      return;
    }
    setError(null);
    try {
      await api("DELETE", `${base}/${encodeURIComponent(c.username)}`);
      list.reload();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section className="card" aria-label="Collaborators">
      <h2>Collaborators</h2>
      <p className="muted small-text">
        Viewers read; Operators also run jobs and restart models; Contributors also change files, jobs and models;
        Admins also manage collaborators.
      </p>
      {isAdmin && (
        <form className="inline-form" onSubmit={add} aria-label="Add a collaborator">
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
          <button type="submit">Add</button>
        </form>
      )}
      <ErrorBanner error={error || list.error} />
      {list.loading && !list.items.length ? (
        <Loading what="Loading collaborators" />
      ) : (
        <table className="list">
          <thead>
            <tr>
              <th scope="col">User</th>
              <th scope="col">Role</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((c) => (
              <tr key={c.username}>
                <td>{c.username}</td>
                <td>
                  {isAdmin ? (
                    <select aria-label={`Role of ${c.username}`} value={c.role} onChange={(e) => void put(c.username, e.target.value)}>
                      {ROLES.map((r) => (
                        <option key={r}>{r}</option>
                      ))}
                    </select>
                  ) : (
                    c.role
                  )}
                </td>
                <td className="actions">
                  {isAdmin && (
                    <button type="button" className="link danger" onClick={() => void remove(c)}>
                      Remove<span className="visually-hidden"> {c.username}</span>
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager list={list} label="Collaborators" />
    </section>
  );
}

function Environment({ project }: { project: Project }) {
  const base = `/api/v2/projects/${project.id}/env`;
  const canEdit = project.my_role === "Contributor" || project.my_role === "Admin";
  const list = usePagedList<EnvVar>((p) => listPage<EnvVar>(base, "environment", p), [base], 50);
  const [name, setName] = useState("");
  const [value, setValue] = useState("");
  const [hidden, setHidden] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const set = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      await api("PUT", `${base}/${encodeURIComponent(name.trim())}`, { body: { value, hidden } });
      setName("");
      setValue("");
      setHidden(false);
      list.reload();
    } catch (err) {
      setError(err);
    }
  };
  const remove = async (v: EnvVar) => {
    if (!window.confirm(`Delete the variable ${v.name}?`)) {
      return;
    }
    setError(null);
    try {
      await api("DELETE", `${base}/${encodeURIComponent(v.name)}`);
      list.reload();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section className="card" aria-label="Environment variables">
      <h2>Environment variables</h2>
      <p className="muted small-text">Every job run and model replica of this project sees these. Hidden values are stored encrypted and never shown again.</p>
      {canEdit && (
        <form onSubmit={set} aria-label="Set a variable">
          <div className="row">
            <label>
              Name
              <input value={name} onChange={(e) => setName(e.target.value)} required pattern="[A-Za-z_][A-Za-z0-9_]*" placeholder="DATABASE_URL" />
            </label>
            <label>
              Value
              <input type={hidden ? "password" : "text"} value={value} onChange={(e) => setValue(e.target.value)} autoComplete="off" />
            </label>
          </div>
          <label className="inline">
            <input type="checkbox" checked={hidden} onChange={(e) => setHidden(e.target.checked)} />
            Hidden (a secret: masked, and never shown again)
          </label>
          <button type="submit">Set variable</button>
        </form>
      )}
      <ErrorBanner error={error || list.error} />
      {list.loading && !list.items.length ? (
        <Loading what="Loading variables" />
      ) : list.items.length === 0 ? (
        <Empty title="No environment variables." />
      ) : (
        <table className="list">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Value</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((v) => (
              <tr key={v.name}>
                <td>
                  <code>{v.name}</code>
                </td>
                <td>{v.hidden ? <span className="muted">•••••• (hidden)</span> : <code>{v.value}</code>}</td>
                <td className="actions">
                  {canEdit && (
                    <button type="button" className="link danger" onClick={() => void remove(v)}>
                      Delete<span className="visually-hidden"> {v.name}</span>
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager list={list} label="Variables" />
    </section>
  );
}
