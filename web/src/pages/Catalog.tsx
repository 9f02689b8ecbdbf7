// The model catalog: every model the user may see, across projects, with its versions, aliases,
// deployment, traffic and training data.
import { useState, type FormEvent } from "react";
import { Link } from "react-router-dom";

import { api, type Page } from "../api/client";
import { Empty, ErrorBanner, Loading, Pager, StatusBadge, usePagedList } from "../components/common";
import { formatTime } from "../lib/format";

export interface CatalogModel {
  model_id: number;
  crn: string;
  name: string;
  description: string;
  project_id: number;
  project_name: string;
  owner: string;
  created_by: string;
  versions: { version: number; build_id: number; state: string }[];
  aliases: Record<string, { build_id: number; version: number }>;
  deployment: {
    deployment_id: number;
    crn: string;
    state: string;
    build_id: number;
    replicas: number;
    requests: number;
    errors: number;
  } | null;
  last_deployed_at: string | null;
  training_data: { crn: string; name: string; qualified_name: string }[];
}

export function CatalogPage() {
  const [search, setSearch] = useState("");
  const [applied, setApplied] = useState("");
  const [state, setState] = useState("");
  const list = usePagedList<CatalogModel>(
    async (p) => {
      const body = await api<{ models: CatalogModel[]; next_page_token: string }>("GET", "/api/v2/catalog/models", {
        query: { search: applied, state, page_size: p.pageSize, page_token: p.pageToken },
      });
      return { items: body.models, nextPageToken: body.next_page_token } as Page<CatalogModel>;
    },
    [applied, state],
  );

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setApplied(search.trim());
  };

  return (
    <section>
      <h1>Model catalog</h1>
      <p>Every model you can see, in every project: its versions, aliases, what serves now and what it was trained on.</p>
      <form className="card" onSubmit={submit} aria-label="Filter the catalog">
        <div className="row">
          <label>
            Search
            <input value={search} onChange={(e) => setSearch(e.target.value)} placeholder="model, description or project" />
          </label>
          <label>
            Deployment
            <select value={state} onChange={(e) => setState(e.target.value)}>
              <option value="">Any</option>
              <option value="deployed">Deployed</option>
              <option value="not_deployed">Not deployed</option>
            </select>
          </label>
          <button type="submit">Search</button>
        </div>
      </form>
      <ErrorBanner error={list.error} />
      {list.loading && !list.items.length ? (
        <Loading what="Loading the catalog" />
      ) : list.items.length === 0 ? (
        <Empty title={applied || state ? "No model matches." : "No models yet."}>
          {!applied && !state && (
            <p>
              Open a project and create a model from its <strong>Models</strong> tab: it appears here once it exists.
            </p>
          )}
        </Empty>
      ) : (
        <table className="list">
          <thead>
            <tr>
              <th scope="col">Model</th>
              <th scope="col">Project</th>
              <th scope="col">Versions</th>
              <th scope="col">Aliases</th>
              <th scope="col">Serving</th>
              <th scope="col">Requests / errors</th>
              <th scope="col">Last deployed</th>
              <th scope="col">Training data</th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((m) => (
              <tr key={m.model_id}>
                <td>
                  <Link to={`/projects/${m.project_id}/models/${m.model_id}`}>{m.name}</Link>
                  {m.description && <div className="muted">{m.description}</div>}
                  <div>
                    <Link to={`/lineage?entity=${encodeURIComponent(m.deployment?.crn ?? m.crn)}&direction=up`}>
                      Lineage<span className="visually-hidden"> of {m.name}</span>
                    </Link>
                  </div>
                </td>
                <td>
                  <Link to={`/projects/${m.project_id}`}>{m.project_name}</Link>
                  <div className="muted">{m.owner}</div>
                </td>
                <td>{m.versions.length ? `v${m.versions[0].version} (${m.versions.length} in all)` : "none"}</td>
                <td>
                  {Object.keys(m.aliases).length === 0
                    ? "—"
                    : Object.entries(m.aliases).map(([alias, a]) => (
                        <div key={alias}>
                          <strong>{alias}</strong> → v{a.version}
                        </div>
                      ))}
                </td>
                <td>
                  {m.deployment ? (
                    <>
                      <StatusBadge status={m.deployment.state} />{" "}
                      <span>
                        v{m.versions.find((v) => v.build_id === m.deployment!.build_id)?.version ?? "?"} ×{" "}
                        {m.deployment.replicas}
                      </span>
                    </>
                  ) : (
                    <span className="muted">not deployed</span>
                  )}
                </td>
                <td>{m.deployment ? `${m.deployment.requests} / ${m.deployment.errors}` : "—"}</td>
                <td>{formatTime(m.last_deployed_at)}</td>
                <td>
                  {m.training_data.length === 0 ? (
                    <span className="muted">none recorded</span>
                  ) : (
                    <ul className="plain">
                      {m.training_data.map((d) => (
                        <li key={d.crn}>
                          <Link to={`/lineage?entity=${encodeURIComponent(d.crn)}&direction=down`}>{d.name}</Link>
                        </li>
                      ))}
                    </ul>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager list={list} label="Catalog" />
    </section>
  );
}
