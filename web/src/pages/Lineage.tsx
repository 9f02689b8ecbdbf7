// Lineage: find an entity, see where it came from and what came from it, expand any node with a
// click, hide kinds; the same graph as a list for keyboards and screen readers.
import cytoscape, { type Core } from "cytoscape";
import { useEffect, useMemo, useRef, useState, type FormEvent, type ReactNode } from "react";
import { Link, useSearchParams } from "react-router-dom";

import { api } from "../api/client";
import "./lineage.css";
import { Empty, ErrorBanner, Loading } from "../components/common";
import { formatTime } from "../lib/format";
import {
  ALL_KINDS,
  countKinds,
  describeEdges,
  filterGraph,
  kindLabel,
  mergeGraphs,
  toElements,
  type LineageGraph,
  type LineageNode,
} from "../lib/lineage";

type Direction = "up" | "down" | "both";

export function LineagePage() {
  const [params, setParams] = useSearchParams();
  const entity = params.get("entity") ?? "";
  const direction = (params.get("direction") as Direction) || "both";
  const depth = Number(params.get("depth") || 3);
  const [graph, setGraph] = useState<LineageGraph | null>(null);
  const [selected, setSelected] = useState<LineageNode | null>(null);
  const [hidden, setHidden] = useState<Set<string>>(new Set());
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);

  useEffect(() => {
    if (!entity) {
      setGraph(null);
      return;
    }
    let live = true;
    setLoading(true);
    setError(null);
    api<LineageGraph>("GET", "/api/v2/lineage", { query: { entity, direction, depth } })
      .then((g) => {
        if (!live) return;
        setGraph(g);
        setSelected(g.nodes.find((n) => n.crn === entity) ?? null);
      })
      .catch((e) => live && setError(e))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [entity, direction, depth]);

  const expand = async (n: LineageNode) => {
    setError(null);
    try {
      const more = await api<LineageGraph>("GET", "/api/v2/lineage", {
        query: { entity: n.crn, direction: "both", depth: 1 },
      });
      setGraph((g) => (g ? mergeGraphs(g, more) : more));
    } catch (e) {
      setError(e);
    }
  };

  const shown = useMemo(() => (graph ? filterGraph(graph, hidden, entity) : null), [graph, hidden, entity]);
  const counts = useMemo(() => (graph ? countKinds(graph) : null), [graph]);
  const set = (changes: Record<string, string>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) next.set(k, v);
    setParams(next);
  };

  return (
    <section>
      <h1>Lineage</h1>
      <p>
        Where a model, a build or a dataset came from, and what was made from it. Lathe records this by itself as
        projects, jobs, builds and deployments happen; jobs add the datasets they read with{" "}
        <code>lathe.lineage.used(...)</code>, and <code>lineage.yaml</code> names a model's training data.
      </p>
      <EntitySearch onPick={(crn) => set({ entity: crn })} />
      {entity && (
        <div className="row" role="group" aria-label="Graph options">
          <label>
            Direction
            <select value={direction} onChange={(e) => set({ direction: e.target.value })}>
              <option value="up">Upstream: what it came from</option>
              <option value="down">Downstream: what came from it</option>
              <option value="both">Both</option>
            </select>
          </label>
          <label>
            Depth
            <select value={depth} onChange={(e) => set({ depth: e.target.value })}>
              {[1, 2, 3, 5, 10].map((d) => (
                <option key={d} value={d}>
                  {d}
                </option>
              ))}
            </select>
          </label>
        </div>
      )}
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      {loading && <Loading what="Loading the graph" />}
      {!entity && !loading && (
        <Empty title="Pick an entity to see its lineage.">
          <p>
            Search above for a model, a dataset, a job or a project; or open a model and follow its{" "}
            <strong>Lineage</strong> link.
          </p>
        </Empty>
      )}
      {shown && counts && (
        <>
          <fieldset className="card kinds">
            <legend>Show</legend>
            {ALL_KINDS.filter((k) => (counts.get(k) ?? 0) > 0).map((k) => (
              <label key={k} className="inline">
                <input
                  type="checkbox"
                  checked={!hidden.has(k)}
                  onChange={(e) => {
                    const next = new Set(hidden);
                    if (e.target.checked) next.delete(k);
                    else next.add(k);
                    setHidden(next);
                  }}
                />
                {kindLabel(k)} ({counts.get(k)})
              </label>
            ))}
          </fieldset>
          {graph?.truncated && (
            <p className="notice" role="status">
              The graph is larger than what is shown; lower the depth or expand nodes one at a time.
            </p>
          )}
          <div className="lineage">
            <GraphView
              graph={shown}
              focus={entity}
              onSelect={(id) => setSelected(shown.nodes.find((n) => n.id === id) ?? null)}
              onExpand={(id) => {
                const n = shown.nodes.find((x) => x.id === id);
                if (n) void expand(n);
              }}
            />
            <NodeDetails node={selected} onExpand={expand} onFocus={(n) => set({ entity: n.crn })} />
          </div>
          <details className="card">
            <summary>
              The graph as a list ({shown.nodes.length} nodes, {shown.edges.length} edges)
            </summary>
            <table className="list compact">
              <thead>
                <tr>
                  <th scope="col">Kind</th>
                  <th scope="col">Name</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {shown.nodes.map((n) => (
                  <tr key={n.id}>
                    <td>{kindLabel(n.kind)}</td>
                    <td>{n.name}</td>
                    <td className="actions">
                      <button type="button" className="link" onClick={() => setSelected(n)}>
                        Details<span className="visually-hidden"> of {n.name}</span>
                      </button>
                      <button type="button" className="link" onClick={() => void expand(n)}>
                        Expand<span className="visually-hidden"> {n.name}</span>
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            <ul className="edges">
              {describeEdges(shown).map((line, i) => (
                <li key={i}>{line}</li>
              ))}
            </ul>
          </details>
        </>
      )}
    </section>
  );
}

function EntitySearch({ onPick }: { onPick: (crn: string) => void }) {
  const [text, setText] = useState("");
  const [kind, setKind] = useState("");
  const [found, setFound] = useState<LineageNode[] | null>(null);
  const [error, setError] = useState<unknown>(null);

  const search = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const body = await api<{ entities: LineageNode[] }>("GET", "/api/v2/lineage/entities", {
        query: { search: text.trim(), kind, page_size: 20 },
      });
      setFound(body.entities);
    } catch (err) {
      setError(err);
    }
  };

  return (
    <form className="card" onSubmit={search} aria-label="Find an entity">
      <div className="row">
        <label>
          Name
          <input value={text} onChange={(e) => setText(e.target.value)} placeholder="churn, train.py, default.telco_churn" />
        </label>
        <label>
          Kind
          <select value={kind} onChange={(e) => setKind(e.target.value)}>
            <option value="">Any</option>
            {ALL_KINDS.map((k) => (
              <option key={k} value={k}>
                {kindLabel(k)}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Search</button>
      </div>
      <ErrorBanner error={error} />
      {found && found.length === 0 && <p className="muted">Nothing you can see matches.</p>}
      {found && found.length > 0 && (
        <ul className="results" aria-label="Entities found">
          {found.map((n) => (
            <li key={n.id}>
              <button type="button" className="link" onClick={() => onPick(n.crn)}>
                {n.name}
              </button>{" "}
              <span className="muted">
                {kindLabel(n.kind)} · {n.qualified_name}
              </span>
            </li>
          ))}
        </ul>
      )}
    </form>
  );
}

function GraphView({
  graph,
  focus,
  onSelect,
  onExpand,
}: {
  graph: LineageGraph;
  focus: string;
  onSelect: (id: number) => void;
  onExpand: (id: number) => void;
}) {
  const box = useRef<HTMLDivElement>(null);
  const cy = useRef<Core | null>(null);
  const handlers = useRef({ onSelect, onExpand });
  handlers.current = { onSelect, onExpand };

  useEffect(() => {
    if (!box.current) return;
    const instance = cytoscape({
      container: box.current,
      wheelSensitivity: 0.3,
      // A graph of three nodes fitted to the box would be drawn huge.
      minZoom: 0.15,
      maxZoom: 1.5,
      style: [
        {
          selector: "node",
          style: {
            label: "data(label)",
            "text-wrap": "wrap",
            "text-max-width": "140px",
            "font-size": 10,
            "text-valign": "bottom",
            "text-margin-y": 4,
            "background-color": "#0969da",
            width: 22,
            height: 22,
          },
        },
        { selector: "node.process", style: { shape: "round-rectangle", "background-color": "#8250df" } },
        { selector: "node.focus", style: { "border-width": 4, "border-color": "#bf8700" } },
        { selector: "node:selected", style: { "border-width": 3, "border-color": "#1f2328" } },
        {
          selector: "edge",
          style: {
            width: 1.5,
            "curve-style": "bezier",
            "target-arrow-shape": "triangle",
            "line-color": "#8c959f",
            "target-arrow-color": "#8c959f",
          },
        },
        { selector: "edge.contains", style: { "line-style": "dashed" } },
      ],
    });
    instance.on("tap", "node", (e) => handlers.current.onSelect(Number(e.target.id())));
    instance.on("dbltap", "node", (e) => handlers.current.onExpand(Number(e.target.id())));
    cy.current = instance;
    return () => {
      instance.destroy();
      cy.current = null;
    };
  }, []);

  useEffect(() => {
    const instance = cy.current;
    if (!instance) return;
    instance.elements().remove();
    instance.add(toElements(graph, focus));
    // Sources on top, flowing down to what was made from them; the focus is ringed.
    instance
      .layout({
        name: "breadthfirst",
        directed: true,
        spacingFactor: 1.4,
        padding: 20,
        animate: false,
      })
      .run();
  }, [graph, focus]);

  return (
    <div
      ref={box}
      className="graph"
      role="img"
      aria-label={`Lineage graph with ${graph.nodes.length} nodes; the list below holds the same graph`}
      data-testid="lineage-graph"
      data-nodes={graph.nodes.length}
    />
  );
}

// The rows of a node's details: who it is, where it lives, then its own attributes.
function details(node: LineageNode): [string, ReactNode][] {
  const rows: [string, ReactNode][] = [
    ["CRN", <code key="crn">{node.crn}</code>],
    ["Qualified name", node.qualified_name],
  ];
  if (node.project_id !== null) {
    rows.push(["Project", <Link key="p" to={`/projects/${node.project_id}`}>project {node.project_id}</Link>]);
  }
  rows.push(["Recorded", formatTime(node.created_at)]);
  for (const [k, v] of Object.entries(node.attributes)) {
    rows.push([k.replace(/_/g, " "), v !== null && typeof v === "object" ? JSON.stringify(v) : String(v)]);
  }
  return rows;
}

function NodeDetails({
  node,
  onExpand,
  onFocus,
}: {
  node: LineageNode | null;
  onExpand: (n: LineageNode) => void;
  onFocus: (n: LineageNode) => void;
}) {
  if (!node) {
    return (
      <aside className="card details" aria-label="Node details">
        <p className="muted">Click a node for its details; double-click to expand it.</p>
      </aside>
    );
  }
  return (
    <aside className="card details" aria-label="Node details">
      <h2>{node.name}</h2>
      <p className="muted">
        {kindLabel(node.kind)} ({node.category})
      </p>
      <dl>
        {details(node).map(([label, value]) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
      <div className="row">
        <button type="button" onClick={() => onExpand(node)}>
          Expand
        </button>
        <button type="button" onClick={() => onFocus(node)}>
          Center on it
        </button>
      </div>
    </aside>
  );
}
