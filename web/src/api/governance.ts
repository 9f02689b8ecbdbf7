// The API calls and types of resource profiles, runtimes, and a build's governance: its
// reproducibility record, its example requests and their replay against another build.
import { api, listPage } from "./client";
import type { Deployment, ModelBuild } from "./types";

export interface ResourceProfile {
  name: string;
  cpu: number;
  memory: number;
  nvidia_gpu: number;
}

export interface Runtime {
  name: string;
  interpreter: string;
}

export interface Runtimes {
  runtimes: Runtime[];
  // The most one workload may ask for (the max_workload_* settings; GPUs: the host's devices).
  max_workload: ResourceProfile;
}

export function listRuntimes(): Promise<Runtimes> {
  return api<Runtimes>("GET", "/api/v2/runtimes", { query: { page_size: 100 } });
}

export async function listProfiles(): Promise<ResourceProfile[]> {
  return (await listPage<ResourceProfile>("/api/v2/resource-profiles", "resource_profiles", { pageSize: 100 })).items;
}

// Creates the profile, or replaces the one of that name.
export function putProfile(p: ResourceProfile): Promise<ResourceProfile> {
  return api<ResourceProfile>("PUT", `/api/v2/resource-profiles/${encodeURIComponent(p.name)}`, {
    body: { cpu: p.cpu, memory: p.memory, nvidia_gpu: p.nvidia_gpu },
  });
}

export function deleteProfile(name: string): Promise<void> {
  return api<void>("DELETE", `/api/v2/resource-profiles/${encodeURIComponent(name)}`);
}

// What a build recorded to be rebuilt and compared (`reproducibility` of a build).
export interface Reproducibility {
  snapshot: string;
  file: string;
  function: string;
  kernel: string;
  python: string | null;
  interpreter: string | null;
  build_script_output_sha256: string | null;
  environment_names: string[] | null;
  lineage_yaml: string | null;
  lineage_yaml_sha256: string | null;
  lineage: Record<string, unknown> | null;
  // Each "lineage.yaml:<line>:<column>: <what>", in file order.
  lineage_problems: string[] | null;
}

export interface BuildRecord extends ModelBuild {
  snapshot: string;
  snapshot_files: number;
  snapshot_bytes: number;
  python: string;
  packages: { name: string; version: string }[];
  reproducibility: Reproducibility;
}

export function getBuild(buildPath: string): Promise<BuildRecord> {
  return api<BuildRecord>("GET", buildPath);
}

export interface BuildExample {
  id: number;
  build_id: number;
  request: unknown;
  response: unknown;
  created_at: string;
}

// Every example of a build (a build keeps at most 1000).
export async function listExamples(buildPath: string): Promise<BuildExample[]> {
  const out: BuildExample[] = [];
  let token = "";
  do {
    const page = await listPage<BuildExample>(`${buildPath}/examples`, "examples", { pageSize: 100, pageToken: token || undefined });
    out.push(...page.items);
    token = page.nextPageToken;
  } while (token);
  return out;
}

// Keeps a request with its answer; without `response`, the build itself answers (it must be the
// one the model serves).
export function addExample(buildPath: string, request: unknown, response?: unknown): Promise<BuildExample> {
  return api<BuildExample>("POST", `${buildPath}/examples`, {
    body: response === undefined ? { request } : { request, response },
  });
}

export interface ReplayResult {
  build_id: number;
  against_build_id: number;
  examples: number;
  same: number;
  changed: { example_id: number; request: unknown; expected: unknown; actual: unknown }[];
}

export function replayExamples(buildPath: string, againstBuildId: number): Promise<ReplayResult> {
  return api<ReplayResult>("POST", `${buildPath}/examples:replay`, { body: { against_build_id: againstBuildId } });
}

// The deployment serving the model now, if any.
export async function servingDeployment(modelPath: string): Promise<Deployment | null> {
  const page = await listPage<Deployment>(`${modelPath}/deployments`, "deployments", { pageSize: 50 });
  return page.items.find((d) => d.state === "deployed") ?? null;
}
