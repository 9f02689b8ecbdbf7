// One project: its files, jobs and models, each under a tab.
import { useEffect, useState } from "react";
import { Link, NavLink, Navigate, Route, Routes, useParams } from "react-router-dom";

import { api } from "../api/client";
import type { Project } from "../api/types";
import { ErrorBanner, Loading } from "../components/common";
import { GettingStarted } from "../components/GettingStarted";
import { FilesPage } from "./Files";
import { JobPage, JobsPage, NewJobPage } from "./Jobs";
import { ModelPage, ModelsPage } from "./Models";
import { ProjectSettingsPage } from "./ProjectSettings";

export function ProjectPage() {
  const { projectId = "" } = useParams();
  const [project, setProject] = useState<Project | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    setProject(null);
    setError(null);
    api<Project>("GET", `/api/v2/projects/${encodeURIComponent(projectId)}`)
      .then(setProject)
      .catch(setError);
  }, [projectId]);

  if (error) {
    return (
      <section>
        <h1>Project</h1>
        <ErrorBanner error={error} />
        <p>
          <Link to="/projects">Back to your projects</Link>
        </p>
      </section>
    );
  }
  if (!project) {
    return <Loading what="Loading the project" />;
  }
  const base = `/projects/${project.id}`;
  return (
    <section>
      <p className="crumbs">
        <Link to="/projects">Projects</Link> / <span>{project.owner.name}</span>
      </p>
      <div className="title-row">
        <h1>{project.name}</h1>
        <span className="muted">your role: {project.my_role}</span>
      </div>
      {project.description && <p>{project.description}</p>}
      <GettingStarted project={project} />
      <nav className="tabs" aria-label="Project">
        <NavLink to={`${base}/files`}>Files</NavLink>
        <NavLink to={`${base}/jobs`}>Jobs</NavLink>
        <NavLink to={`${base}/models`}>Models</NavLink>
        <NavLink to={`${base}/settings`}>Settings</NavLink>
      </nav>
      <Routes>
        <Route index element={<Navigate to={`${base}/files`} replace />} />
        <Route path="files/*" element={<FilesRoute project={project} />} />
        <Route path="jobs" element={<JobsPage project={project} />} />
        <Route path="jobs/new" element={<NewJobPage project={project} />} />
        <Route path="jobs/:jobId/*" element={<JobPage project={project} />} />
        <Route path="models" element={<ModelsPage project={project} />} />
        <Route path="models/:modelId/*" element={<ModelPage project={project} />} />
        <Route path="settings" element={<ProjectSettingsPage project={project} />} />
      </Routes>
    </section>
  );
}

function FilesRoute({ project }: { project: Project }) {
  const params = useParams();
  // The router hands the rest of the path decoded segment by segment.
  const path = (params["*"] ?? "").replace(/\/+$/, "");
  return <FilesPage project={project} path={path} />;
}
