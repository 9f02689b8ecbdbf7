// The project's "getting started" guide: from an empty project to a monitored model endpoint,
// worked out from what the project already has.

// What the guide needs to know about the project (each field read from the API).
export interface ProjectFacts {
  // The project's root folder has a Python file (a model's code).
  hasPythonFile: boolean;
  // The model the guide follows (a serving one if there is one, else the newest), or none.
  model: { id: number; name: string } | null;
  // The followed model has a build that succeeded.
  hasBuild: boolean;
  // The followed model has a build that is queued or building now.
  buildRunning: boolean;
  // The followed model's last build failed (and none succeeded).
  buildFailed: boolean;
  // The followed model is deployed (a deployment serves it).
  deployed: boolean;
  // Requests answered by the serving deployment.
  requests: number;
}

export type StepKey = "code" | "model" | "build" | "deploy" | "call" | "watch";

export interface Step {
  key: StepKey;
  // Link text: a few words, unique on the page.
  label: string;
  // Where to do it, relative to the project's page.
  to: string;
  done: boolean;
  // What to do now, in a sentence (only for the current step).
  hint: string;
}

export interface Guide {
  steps: Step[];
  // The first step not done, or null when the model serves and has been called.
  current: StepKey | null;
}

export function gettingStarted(base: string, facts: ProjectFacts): Guide {
  const m = facts.model;
  const modelBase = m ? `${base}/models/${m.id}` : `${base}/models`;
  const steps: Step[] = [
    {
      key: "code",
      label: "Add your code",
      to: `${base}/files`,
      // A build proves the code is there, even in a folder the guide does not look into.
      done: facts.hasPythonFile || facts.hasBuild || facts.buildRunning || facts.buildFailed || facts.deployed,
      hint:
        "Upload your predict.py (and the files it loads, such as model.pkl), or create it under Files: " +
        "a function that takes one argument, a dict of the request's fields, and returns the answer.",
    },
    {
      key: "model",
      label: "Create a model",
      to: `${base}/models`,
      done: m !== null,
      hint: "Under Models, press New model and give it a name. A model is the endpoint; its builds are versions of your code.",
    },
    {
      key: "build",
      label: "Build it",
      to: `${modelBase}/builds`,
      done: facts.hasBuild,
      hint: facts.buildRunning
        ? `A build of ${m?.name ?? "the model"} is running: its log follows live on the Builds tab.`
        : facts.buildFailed
          ? `The last build of ${m?.name ?? "the model"} failed: its log ends with the reason. Fix the file or the function name and build again.`
          : `Build ${m?.name ?? "the model"}: name the Python file and its function; Lathe imports it and records its packages.`,
    },
    {
      key: "deploy",
      label: "Deploy it",
      to: `${modelBase}/deployments`,
      done: facts.deployed,
      hint: "Deploy the build: choose how many replicas serve it and their size. It serves once a replica is ready.",
    },
    {
      key: "call",
      label: "Call it",
      to: `${modelBase}/test`,
      done: facts.deployed && facts.requests > 0,
      hint: "Send a request from the Test tab; it also shows the curl and Python code that call the endpoint.",
    },
    {
      key: "watch",
      label: "Watch it",
      to: `${modelBase}/monitoring`,
      // Never "done": watching goes on. The guide ends when the model has been called.
      done: false,
      hint: "Requests, errors, latency and your tracked metrics are on the Monitoring tab, with drift and monitors.",
    },
  ];
  const pending = steps.find((s) => !s.done && s.key !== "watch");
  return { steps, current: pending ? pending.key : null };
}

// The model the guide follows: the one serving, else the newest.
export function followedModel<T extends { id: number; deployment_id: number | null; created_at: string }>(models: T[]): T | null {
  if (!models.length) {
    return null;
  }
  const serving = models.find((m) => m.deployment_id !== null);
  if (serving) {
    return serving;
  }
  return models.reduce((a, b) => (b.created_at > a.created_at || (b.created_at === a.created_at && b.id > a.id) ? b : a));
}
