import { describe, expect, it } from "vitest";

import { countKinds, describeEdges, filterGraph, mergeGraphs, toElements, type LineageGraph, type LineageNode } from "./lineage";

function node(id: number, kind: string, name: string, category: "entity" | "process" = "entity"): LineageNode {
  return {
    id,
    crn: `crn:lathe:ml:default:${kind}/${id}`,
    kind,
    category,
    name,
    qualified_name: name,
    project_id: 1,
    attributes: {},
    created_at: "2026-12-06T00:00:00Z",
    updated_at: "2026-12-06T00:00:00Z",
  };
}

const data = node(1, "dataset", "churn.csv");
const run = node(2, "run_job", "run 1 of train", "process");
const pkl = node(3, "dataset", "model.pkl");
const project = node(4, "project", "churn");

const g1: LineageGraph = {
  nodes: [data, run],
  edges: [{ id: 10, from: 1, to: 2, from_crn: data.crn, to_crn: run.crn, kind: "input" }],
};
const g2: LineageGraph = {
  nodes: [{ ...run, name: "run 1 of train (renamed)" }, pkl, project],
  edges: [
    { id: 11, from: 2, to: 3, from_crn: run.crn, to_crn: pkl.crn, kind: "output" },
    { id: 12, from: 4, to: 3, from_crn: project.crn, to_crn: pkl.crn, kind: "contains" },
  ],
  truncated: true,
};

describe("lineage graphs", () => {
  it("merges expansions without duplicates, newest node data winning", () => {
    const m = mergeGraphs(g1, g2);
    expect(m.nodes.map((n) => n.id)).toEqual([1, 2, 3, 4]);
    expect(m.edges.map((e) => e.id)).toEqual([10, 11, 12]);
    expect(m.nodes[1].name).toBe("run 1 of train (renamed)");
    expect(m.truncated).toBe(true);
    expect(mergeGraphs(m, g1).nodes).toHaveLength(4);
  });

  it("hides kinds with their edges but keeps the focused node", () => {
    const m = mergeGraphs(g1, g2);
    const f = filterGraph(m, new Set(["project", "dataset"]), data.crn);
    expect(f.nodes.map((n) => n.id)).toEqual([1, 2]);
    expect(f.edges.map((e) => e.id)).toEqual([10]);
    expect(filterGraph(m, new Set()).nodes).toHaveLength(4);
  });

  it("turns the graph into Cytoscape elements and readable lines", () => {
    const els = toElements(g1, data.crn);
    expect(els).toHaveLength(3);
    expect(els[0]).toMatchObject({ group: "nodes", data: { id: "1", label: "churn.csv\nDataset" }, classes: "entity focus" });
    expect(els[1].classes).toBe("process");
    expect(els[2]).toMatchObject({ group: "edges", data: { source: "1", target: "2", kind: "input" } });
    expect(describeEdges(g1)).toEqual(["churn.csv (Dataset) —input→ run 1 of train (Run job)"]);
  });

  it("counts nodes per kind, every kind listed", () => {
    const c = countKinds(mergeGraphs(g1, g2));
    expect(c.get("dataset")).toBe(2);
    expect(c.get("run_job")).toBe(1);
    expect(c.get("model")).toBe(0);
  });
});
