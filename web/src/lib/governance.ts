// Pure logic of the admin's resource profiles and a build's governance panel: checking a profile
// before it is sent, reading lineage.yaml problems, parsing JSON typed by a user, and lining up
// a replay's answers with the examples they came from.

export interface ProfileDraft {
  name: string;
  cpu: string;
  memory: string;
  nvidia_gpu: string;
}

export interface ProfileLimits {
  cpu: number;
  memory: number;
  nvidia_gpu: number;
}

export type ProfileErrors = Partial<Record<keyof ProfileDraft, string>>;

export interface CheckedProfile {
  errors: ProfileErrors;
  // Not wrong, but worth saying (more GPUs than the server has).
  warnings: ProfileErrors;
  value?: { name: string; cpu: number; memory: number; nvidia_gpu: number };
}

// What the server takes (1-64 characters, cpu and memory above 0 and within the per-workload
// maximum, GPUs a whole number from 0), plus names that are safe in a URL path segment.
export function checkProfile(d: ProfileDraft, limits: ProfileLimits | null, existing: string[] = []): CheckedProfile {
  const errors: ProfileErrors = {};
  const warnings: ProfileErrors = {};
  const name = d.name.trim();
  if (!name) {
    errors.name = "Give the profile a name, such as small or gpu-large.";
  } else if (name.length > 64) {
    errors.name = "A profile name is at most 64 characters.";
  } else if (!/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/.test(name)) {
    errors.name = "Use letters, digits, spaces, dots, dashes and underscores, starting with a letter or digit.";
  } else if (existing.includes(name)) {
    errors.name = `A profile named ${name} exists already: edit it instead.`;
  }
  const number = (text: string) => (text.trim() === "" ? NaN : Number(text));
  const cpu = number(d.cpu);
  if (!Number.isFinite(cpu) || cpu <= 0) {
    errors.cpu = "vCPU must be a number above 0, such as 0.5 or 2.";
  } else if (Math.round(cpu * 1000) < 1) {
    errors.cpu = "vCPU is counted in thousandths: use at least 0.001.";
  } else if (limits && cpu > limits.cpu) {
    errors.cpu = `At most ${limits.cpu} vCPU: the most one workload may ask for on this server.`;
  }
  const memory = number(d.memory);
  if (!Number.isFinite(memory) || memory <= 0) {
    errors.memory = "Memory must be a number of GiB above 0, such as 0.5 or 4.";
  } else if (Math.round(memory * 1024) < 1) {
    errors.memory = "Memory is counted in MiB: use at least 0.001 GiB.";
  } else if (limits && memory > limits.memory) {
    errors.memory = `At most ${limits.memory} GiB: the most one workload may ask for on this server.`;
  }
  const gpus = d.nvidia_gpu.trim() === "" ? 0 : Number(d.nvidia_gpu);
  if (!Number.isInteger(gpus) || gpus < 0) {
    errors.nvidia_gpu = "GPUs must be a whole number, 0 or more.";
  } else if (limits && gpus > limits.nvidia_gpu) {
    warnings.nvidia_gpu =
      limits.nvidia_gpu === 0
        ? "This server has no GPUs: a workload of this size will wait until one is added."
        : `This server has ${limits.nvidia_gpu} GPU(s): a workload of this size will wait until more are added.`;
  }
  if (Object.keys(errors).length) {
    return { errors, warnings };
  }
  return { errors, warnings, value: { name, cpu, memory, nvidia_gpu: gpus } };
}

export interface LineageProblem {
  line: number | null;
  column: number | null;
  message: string;
}

// "lineage.yaml:5:3: unknown key ..." → {line: 5, column: 3, message: "unknown key ..."}; a
// problem of the whole file ("lineage.yaml: the file is ...") has no position.
export function parseLineageProblem(text: string): LineageProblem {
  const m = /^lineage\.yaml:(\d+):(\d+):\s*(.*)$/s.exec(text);
  if (m) {
    return { line: Number(m[1]), column: Number(m[2]), message: m[3] };
  }
  const whole = /^lineage\.yaml:\s*(.*)$/s.exec(text);
  return { line: null, column: null, message: whole ? whole[1] : text };
}

// The lines of the file with the problems that point at each, for showing the file annotated.
export function annotateLines(text: string, problems: LineageProblem[]): { number: number; text: string; problems: LineageProblem[] }[] {
  const lines = text.replace(/\r\n/g, "\n").replace(/\n$/, "").split("\n");
  return lines.map((line, i) => ({
    number: i + 1,
    text: line,
    problems: problems.filter((p) => p.line === i + 1),
  }));
}

// JSON typed in the editor: the value, or what is wrong in words.
export function parseJsonInput(text: string, what: string): { value?: unknown; error?: string } {
  if (!text.trim()) {
    return { error: `Write the ${what} as JSON, such as {"x": 1}.` };
  }
  try {
    return { value: JSON.parse(text) };
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    return { error: `The ${what} is not valid JSON: ${detail}.` };
  }
}

// A tracked prediction carries a fresh uuid each time; replay compares the prediction alone.
export function comparableAnswer(answer: unknown): unknown {
  if (answer && typeof answer === "object" && !Array.isArray(answer)) {
    const o = answer as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 2 && "prediction" in o && "uuid" in o) {
      return o.prediction;
    }
  }
  return answer;
}

export interface ReplayRow {
  exampleId: number;
  request: unknown;
  expected: unknown;
  actual: unknown;
  changed: boolean;
}

// One row per example: the API lists only the changed ones, so the others answered the same.
// Examples added after the replay started are left out (`replayed` is how many were replayed).
export function replayRows(
  examples: { id: number; request: unknown; response: unknown }[],
  changed: { example_id: number; request: unknown; expected: unknown; actual: unknown }[],
  replayed: number,
): ReplayRow[] {
  const byId = new Map(changed.map((c) => [c.example_id, c]));
  const sorted = [...examples].sort((a, b) => a.id - b.id).slice(0, replayed);
  return sorted.map((e) => {
    const c = byId.get(e.id);
    if (c) {
      return { exampleId: e.id, request: e.request, expected: c.expected, actual: c.actual, changed: true };
    }
    const answer = comparableAnswer(e.response);
    return { exampleId: e.id, request: e.request, expected: answer, actual: answer, changed: false };
  });
}

export function showJson(v: unknown): string {
  if (v === undefined) {
    return "—";
  }
  return JSON.stringify(v, null, 2);
}
