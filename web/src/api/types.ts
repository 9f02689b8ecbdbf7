// The shapes the API answers, as observed from a running server (see src/api/openapi.yaml).

export interface User {
  username: string;
  display_name: string;
  email: string;
  is_admin: boolean;
  disabled: boolean;
  created_at: string;
}

export interface Session {
  user: User;
  csrf_token?: string;
  auth?: string;
}

export interface Project {
  id: number;
  name: string;
  description: string;
  visibility: string;
  owner: { name: string; type: "user" | "team" };
  my_role: "Viewer" | "Operator" | "Contributor" | "Admin" | string;
  created_at: string;
  updated_at: string;
}

export interface FileEntry {
  name: string;
  path: string;
  size: number;
  type: "file" | "directory";
  modified_at: string;
}

export interface Job {
  id: number;
  project_id: number;
  name: string;
  script: string;
  arguments: string;
  kernel: string;
  cpu: number;
  memory: number;
  nvidia_gpu: number;
  timeout: number;
  schedule: string;
  schedule_description: string;
  timezone: string;
  next_runs: string[];
  parent_job_id: number | null;
  created_by: string;
  created_at: string;
  updated_at: string;
}

export type RunStatus =
  | "scheduling"
  | "pending"
  | "starting"
  | "running"
  | "succeeded"
  | "failed"
  | "timedout"
  | "stopped"
  | string;

export interface JobRun {
  id: number;
  job_id: number;
  project_id: number;
  status: RunStatus;
  reason: string;
  trigger: string;
  owner: string;
  exit_code: number | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  duration_seconds: number | null;
}

export interface Model {
  id: number;
  project_id: number;
  name: string;
  description: string;
  crn: string;
  access_key: string;
  auth_enabled: boolean;
  deployment_id: number | null;
  latest_build_id: number | null;
  created_by: string;
  created_at: string;
}

export interface ModelBuild {
  id: number;
  model_id: number;
  crn: string;
  state: "queued" | "building" | "built" | "failed" | string;
  reason: string;
  file_path: string;
  function_name: string;
  kernel: string;
  comment: string;
  created_at: string;
  finished_at: string | null;
  version: number;
  rebuild_of: number | null;
}

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
}

export interface DeploymentStats {
  requests: number;
  errors: number;
  rejected: number;
  in_flight: number;
  queued: number;
  latency_ms: Percentiles;
}

export interface Deployment {
  id: number;
  build_id: number;
  model_id: number;
  crn: string;
  state: "pending" | "deploying" | "deployed" | "stopped" | "failed" | string;
  reason: string;
  replicas: number;
  ready_replicas: number;
  min_replicas: number | null;
  max_replicas: number | null;
  cpu: number;
  memory: number;
  created_at: string;
  deployed_at: string | null;
  stats: DeploymentStats | null;
}

export interface Replica {
  id: number;
  replica_id: string;
  state: string;
  ready: boolean;
  requests: number;
  errors: number;
  in_flight: number;
  reason: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface ApiKey {
  id: number;
  name: string;
  prefix?: string;
  created_at: string;
  expires_at: string | null;
  last_used_at?: string | null;
}

export interface MetricPoint {
  timeStampMs: number;
  count: number;
  mean: number;
  min: number;
  max: number;
  p50: number;
  p95: number;
  p99: number;
}

export interface MetricSeries {
  resolution: "minute" | "hour";
  startTimeStampMs: number;
  endTimeStampMs: number;
  metrics: Record<string, MetricPoint[]>;
}

// GET .../deployments/{id}/stats/history: one point per minute (or hour) with calls.
export interface ServingPoint {
  t: number;
  requests: number;
  errors: number;
  rejected: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
}

export interface ServingHistory {
  resolution: "minute" | "hour";
  from: number;
  to: number;
  points: ServingPoint[];
}

// One record of POST /api/v2/metrics:read: a prediction, or an aggregate (`aggregate: true`).
export interface MetricRecord {
  modelDeploymentCrn: string;
  predictionUuid: string | null;
  aggregate?: boolean;
  startTimeStampMs: number;
  endTimeStampMs: number;
  metrics: Record<string, unknown>;
}

export interface MetricsRead {
  metrics: MetricRecord[];
  nextPageToken?: string | null;
}
