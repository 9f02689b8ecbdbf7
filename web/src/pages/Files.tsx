// A project's files: browse folders, upload with progress, download, and edit text files.
import { lazy, Suspense, useCallback, useEffect, useRef, useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router-dom";

import { api, ApiError, filePathUrl, listPage, uploadWithProgress } from "../api/client";
import type { FileEntry, Project } from "../api/types";
import { Empty, ErrorBanner, Loading, Pager, usePagedList } from "../components/common";
import { formatBytes, formatTime } from "../lib/format";

const MAX_EDIT_BYTES = 2 << 20;
// The editor is most of the UI's code: loaded when a file is opened.
const CodeEditor = lazy(() => import("../components/CodeEditor").then((m) => ({ default: m.CodeEditor })));

function filesApi(projectId: string, path: string): string {
  return path ? `/api/v2/projects/${projectId}/files/${filePathUrl(path)}` : `/api/v2/projects/${projectId}/files`;
}

export function downloadUrl(projectId: string, path: string): string {
  return `/api/v2/projects/${projectId}/files/${filePathUrl(path)}:download`;
}

export function FilesPage({ project, path }: { project: Project; path: string }) {
  const projectId = String(project.id);
  const [entry, setEntry] = useState<FileEntry | "directory" | null>(null);
  const [error, setError] = useState<unknown>(null);

  // Is this path a directory (or the root) or a file?
  useEffect(() => {
    setEntry(null);
    setError(null);
    if (!path) {
      setEntry("directory");
      return;
    }
    api<FileEntry | { files: FileEntry[] }>("GET", filesApi(projectId, path), { query: { page_size: 1 } })
      .then((r) => setEntry("files" in r ? "directory" : r))
      .catch(setError);
  }, [projectId, path]);

  return (
    <section>
      <Breadcrumbs projectId={projectId} path={path} />
      <ErrorBanner error={error} />
      {entry === null && !error && <Loading />}
      {entry === "directory" && <Directory project={project} path={path} />}
      {entry && entry !== "directory" && <FileView project={project} entry={entry} />}
    </section>
  );
}

function Breadcrumbs({ projectId, path }: { projectId: string; path: string }) {
  const parts = path ? path.split("/") : [];
  return (
    <nav aria-label="Folder" className="crumbs">
      <Link to={`/projects/${projectId}/files`}>Files</Link>
      {parts.map((p, i) => (
        <span key={i}>
          {" / "}
          {i === parts.length - 1 ? (
            <span aria-current="page">{p}</span>
          ) : (
            <Link to={`/projects/${projectId}/files/${parts.slice(0, i + 1).map(encodeURIComponent).join("/")}`}>{p}</Link>
          )}
        </span>
      ))}
    </nav>
  );
}

interface Upload {
  name: string;
  sent: number;
  total: number;
  error?: unknown;
  done?: boolean;
}

function Directory({ project, path }: { project: Project; path: string }) {
  const projectId = String(project.id);
  const canWrite = project.my_role === "Contributor" || project.my_role === "Admin";
  const list = usePagedList<FileEntry>((p) => listPage<FileEntry>(filesApi(projectId, path), "files", p), [projectId, path], 50);
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [newName, setNewName] = useState("");
  const [newKind, setNewKind] = useState<"file" | "folder">("file");
  const fileInput = useRef<HTMLInputElement>(null);
  const navigate = useNavigate();
  const join = (name: string) => (path ? `${path}/${name}` : name);

  const upload = useCallback(
    async (files: FileList | null) => {
      if (!files || !files.length) {
        return;
      }
      const batch = Array.from(files);
      setUploads(batch.map((f) => ({ name: f.name, sent: 0, total: f.size })));
      await Promise.all(
        batch.map(async (f, i) => {
          const update = (u: Partial<Upload>) => setUploads((all) => all.map((x, j) => (j === i ? { ...x, ...u } : x)));
          try {
            await uploadWithProgress(filesApi(projectId, join(f.name)), f, (sent, total) => update({ sent, total })).done;
            update({ done: true });
          } catch (e) {
            update({ error: e });
          }
        }),
      );
      list.reload();
      if (fileInput.current) {
        fileInput.current.value = "";
      }
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [projectId, path],
  );

  const create = async (e: FormEvent) => {
    e.preventDefault();
    const name = newName.trim();
    if (!name) {
      return;
    }
    setError(null);
    try {
      if (newKind === "folder") {
        await api("POST", `${filesApi(projectId, join(name))}:mkdir`);
        list.reload();
      } else {
        await api("PUT", filesApi(projectId, join(name)), { rawBody: new Blob([]) });
        navigate(`/projects/${projectId}/files/${join(name).split("/").map(encodeURIComponent).join("/")}`);
      }
      setNewName("");
    } catch (err) {
      setError(err);
    }
  };

  const remove = async (f: FileEntry) => {
    if (!window.confirm(`Delete ${f.type === "directory" ? "the folder" : ""} ${f.path}${f.type === "directory" ? " and everything in it" : ""}?`)) {
      return;
    }
    setError(null);
    try {
      await api("DELETE", filesApi(projectId, f.path));
      list.reload();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <>
      {canWrite && (
        <div className="toolbar">
          <label className="button-like">
            Upload files
            <input
              ref={fileInput}
              type="file"
              multiple
              className="visually-hidden"
              onChange={(e) => void upload(e.target.files)}
              data-testid="upload"
            />
          </label>
          <form className="inline-form" onSubmit={create} aria-label="Create a file or folder">
            <label className="inline">
              New
              <select value={newKind} onChange={(e) => setNewKind(e.target.value as "file" | "folder")}>
                <option value="file">file</option>
                <option value="folder">folder</option>
              </select>
            </label>
            <label className="inline">
              Name
              <input value={newName} onChange={(e) => setNewName(e.target.value)} placeholder="train.py" />
            </label>
            <button type="submit">Create</button>
          </form>
        </div>
      )}
      {uploads.length > 0 && (
        <ul className="uploads" aria-label="Uploads">
          {uploads.map((u) => (
            <li key={u.name}>
              <span>{u.name}</span>
              <progress max={u.total || 1} value={u.sent} aria-label={`Upload of ${u.name}`} />
              <span className="muted">
                {u.error ? <ErrorBanner error={u.error} /> : u.done ? "uploaded" : `${formatBytes(u.sent)} of ${formatBytes(u.total)}`}
              </span>
            </li>
          ))}
        </ul>
      )}
      <ErrorBanner error={error || list.error} />
      {list.loading && !list.items.length ? (
        <Loading what="Loading files" />
      ) : list.items.length === 0 ? (
        <Empty title={path ? "This folder is empty." : "This project has no files yet."}>
          {canWrite ? (
            <p>
              Upload your scripts and data with <strong>Upload files</strong> (several at once), or create a new file
              and write it here. To serve a model, add the Python file with its function (such as{" "}
              <code>predict.py</code> with <code>def predict(args):</code>) and the files it loads (such as{" "}
              <code>model.pkl</code>).
            </p>
          ) : (
            <p>Nothing to see yet: a Contributor of this project can add files.</p>
          )}
        </Empty>
      ) : (
        <table className="list">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Size</th>
              <th scope="col">Modified</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((f) => (
              <tr key={f.path}>
                <td>
                  <Link to={`/projects/${projectId}/files/${f.path.split("/").map(encodeURIComponent).join("/")}`}>
                    {f.type === "directory" ? "📁 " : ""}
                    {f.name}
                    {f.type === "directory" ? "/" : ""}
                  </Link>
                </td>
                <td>{f.type === "file" ? formatBytes(f.size) : ""}</td>
                <td>{formatTime(f.modified_at)}</td>
                <td className="actions">
                  <a href={downloadUrl(projectId, f.path)} download={f.type === "directory" ? `${f.name}.tar` : f.name}>
                    Download<span className="visually-hidden"> {f.name}</span>
                  </a>
                  {canWrite && (
                    <button type="button" className="link danger" onClick={() => void remove(f)}>
                      Delete<span className="visually-hidden"> {f.name}</span>
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager list={list} label="Files" />
    </>
  );
}

function FileView({ project, entry }: { project: Project; entry: FileEntry }) {
  const projectId = String(project.id);
  const canWrite = project.my_role === "Contributor" || project.my_role === "Admin";
  const [content, setContent] = useState<string | null>(null);
  const [binary, setBinary] = useState(false);
  const [draft, setDraft] = useState("");
  const [saved, setSaved] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [saving, setSaving] = useState(false);
  const [savedAt, setSavedAt] = useState<string | null>(null);

  useEffect(() => {
    setContent(null);
    setBinary(false);
    setSavedAt(null);
    if (entry.size > MAX_EDIT_BYTES) {
      setBinary(true);
      return;
    }
    fetch(downloadUrl(projectId, entry.path), { credentials: "same-origin" })
      .then(async (r) => {
        if (!r.ok) {
          throw new ApiError(r.status, `http_${r.status}`, `could not read ${entry.path}`);
        }
        const bytes = new Uint8Array(await r.arrayBuffer());
        try {
          if (bytes.includes(0)) {
            throw new Error("binary");
          }
          const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
          setContent(text);
          setDraft(text);
          setSaved(text);
        } catch {
          setBinary(true);
        }
      })
      .catch(setError);
  }, [projectId, entry.path, entry.size]);

  const save = async () => {
    setSaving(true);
    setError(null);
    try {
      await api("PUT", filesApi(projectId, entry.path), { rawBody: new Blob([draft]) });
      setSaved(draft);
      setSavedAt(new Date().toISOString());
    } catch (e) {
      setError(e);
    } finally {
      setSaving(false);
    }
  };

  const dirty = content !== null && draft !== saved;
  return (
    <>
      <div className="title-row">
        <h2>{entry.name}</h2>
        <div className="buttons">
          {canWrite && content !== null && (
            <button type="button" className="primary" onClick={() => void save()} disabled={!dirty || saving}>
              {saving ? "Saving…" : dirty ? "Save" : "Saved"}
            </button>
          )}
          <a className="button-like" href={downloadUrl(projectId, entry.path)} download={entry.name}>
            Download
          </a>
        </div>
      </div>
      <p className="muted">
        {/* Once opened, the size and time are those of the text as last saved here. */}
        {formatBytes(content !== null ? new TextEncoder().encode(saved).length : entry.size)} · modified{" "}
        {formatTime(savedAt ?? entry.modified_at)}
      </p>
      <ErrorBanner error={error} />
      {binary && <p>This file is not text (or is larger than {formatBytes(MAX_EDIT_BYTES)}), so it can't be edited here. Download it instead.</p>}
      {content !== null && (
        <Suspense fallback={<Loading what="Loading the editor" />}>
          <CodeEditor path={entry.path} initial={content} onChange={setDraft} readOnly={!canWrite} />
        </Suspense>
      )}
    </>
  );
}
