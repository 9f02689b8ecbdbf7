// Picks a resource profile (GET /api/v2/resource-profiles) to fill in a size; the fields stay
// editable, so a profile is a shortcut, not a limit.
import { useEffect, useState } from "react";

import { listPage } from "../api/client";

interface Profile {
  name: string;
  cpu: number;
  memory: number;
  nvidia_gpu: number;
}

export function ProfilePicker({ onPick }: { onPick: (p: { cpu: number; memory: number }) => void }) {
  const [profiles, setProfiles] = useState<Profile[]>([]);
  useEffect(() => {
    listPage<Profile>("/api/v2/resource-profiles", "resource_profiles", { pageSize: 100 })
      .then((p) => setProfiles(p.items))
      .catch(() => setProfiles([]));
  }, []);
  if (!profiles.length) {
    return null;
  }
  return (
    <label>
      Resource profile
      <select
        defaultValue=""
        onChange={(e) => {
          const p = profiles.find((x) => x.name === e.target.value);
          if (p) {
            onPick({ cpu: p.cpu, memory: p.memory });
          }
        }}
      >
        <option value="">custom size</option>
        {profiles.map((p) => (
          <option key={p.name} value={p.name}>
            {p.name}: {p.cpu} vCPU, {p.memory} GiB{p.nvidia_gpu ? `, ${p.nvidia_gpu} GPU` : ""}
          </option>
        ))}
      </select>
    </label>
  );
}
