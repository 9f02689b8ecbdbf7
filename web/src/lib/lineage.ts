// The lineage graph as the API gives it, merged as the user expands nodes, filtered by kind and
// turned into Cytoscape elements.

export interface LineageNode {
  id: number;
  crn: string;
  kind: string;
  category: "entity" | "process";
  name: string;
  qualified_name: string;
  project_id: number | null;
  attributes: Record<string, unknown>;
  created_at: string;
  updated_at: string;
}

export interface LineageEdge {
  id: number;
  from: number;
  to: number;
  from_crn: string;
  to_crn: string;
  kind: "input" | "output" | "contains";
}

export interface LineageGraph {
  nodes: LineageNode[];
  edges: LineageEdge[];
  truncated?: boolean;
}

export const ENTITY_KINDS = [
  "project",
  "dataset",
  "job",
  "job_run",
  "model",
  "model_build",
  "model_deployment",
  "file_snapshot",
] as const;
export const PROCESS_KINDS = ["create_project", "run_job", "build_model", "deploy_model"] as const;
export const ALL_KINDS: readonly string[] = [...ENTITY_KINDS, ...PROCESS_KINDS];

const KIND_LABELS: Record<string, string> = {
  project: "Project",
  dataset: "Dataset",
  job: "Job",
  job_run: "Job run",
  model: "Model",
  model_build: "Model build",
  model_deployment: "Deployment",
  file_snapshot: "File snapshot",
  create_project: "Create project",
  run_job: "Run job",
  build_model: "Build model",
  deploy_model: "Deploy model",
};

export function kindLabel(kind: string): string {
  return KIND_LABELS[kind] ?? kind;
}

// One graph holding both: nodes and edges by id, `b`'s version winning (it is newer).
export function mergeGraphs(a: LineageGraph, b: LineageGraph): LineageGraph {
  const nodes = new Map<number, LineageNode>();
  for (const n of a.nodes) nodes.set(n.id, n);
  for (const n of b.nodes) nodes.set(n.id, n);
  const edges = new Map<number, LineageEdge>();
  for (const e of a.edges) edges.set(e.id, e);
  for (const e of b.edges) edges.set(e.id, e);
  return {
    nodes: [...nodes.values()].sort((x, y) => x.id - y.id),
    edges: [...edges.values()].sort((x, y) => x.id - y.id),
    truncated: Boolean(a.truncated || b.truncated),
  };
}

// The graph without the hidden kinds (and the edges that touched them). The focused node stays,
// whatever its kind, so the view never loses what it is about.
export function filterGraph(g: LineageGraph, hidden: ReadonlySet<string>, keep?: string): LineageGraph {
  const nodes = g.nodes.filter((n) => !hidden.has(n.kind) || n.crn === keep);
  const ids = new Set(nodes.map((n) => n.id));
  return { nodes, edges: g.edges.filter((e) => ids.has(e.from) && ids.has(e.to)), truncated: g.truncated };
}

// Cytoscape elements: nodes with their label and category, edges with their kind.
export function toElements(g: LineageGraph, focus?: string) {
  return [
    ...g.nodes.map((n) => ({
      group: "nodes" as const,
      data: {
        id: String(n.id),
        label: `${n.name}\n${kindLabel(n.kind)}`,
        kind: n.kind,
        category: n.category,
        crn: n.crn,
      },
      classes: [n.category, n.crn === focus ? "focus" : ""].filter(Boolean).join(" "),
    })),
    ...g.edges.map((e) => ({
      group: "edges" as const,
      data: { id: `e${e.id}`, source: String(e.from), target: String(e.to), kind: e.kind },
      classes: e.kind,
    })),
  ];
}

// "name --kind--> name" lines: the graph as text, for screen readers and copying.
export function describeEdges(g: LineageGraph): string[] {
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  return g.edges
    .map((e) => {
      const from = byId.get(e.from);
      const to = byId.get(e.to);
      return from && to ? `${from.name} (${kindLabel(from.kind)}) —${e.kind}→ ${to.name} (${kindLabel(to.kind)})` : "";
    })
    .filter(Boolean);
}

// Counts per kind, in the order of ALL_KINDS, for the filter's labels.
export function countKinds(g: LineageGraph): Map<string, number> {
  const counts = new Map<string, number>();
  for (const k of ALL_KINDS) counts.set(k, 0);
  for (const n of g.nodes) counts.set(n.kind, (counts.get(n.kind) ?? 0) + 1);
  return counts;
}
