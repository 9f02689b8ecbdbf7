// The layout (header, navigation) and the routes of every page.
import { lazy, Suspense, useEffect, useRef } from "react";
import { Link, NavLink, Navigate, Route, Routes, useLocation, useNavigate, useSearchParams } from "react-router-dom";

import { ErrorBanner, Loading } from "./components/common";
import { AdminPage } from "./pages/Admin";
import { CatalogPage } from "./pages/Catalog";
import { KeysPage } from "./pages/Keys";
import { LoginPage } from "./pages/Login";
import { ProjectPage } from "./pages/Project";
import { ProjectsPage } from "./pages/Projects";
import { SettingsPage } from "./pages/Settings";
import { TeamsPage } from "./pages/Teams";
import { SessionProvider, useSession } from "./session";

// The graph library is large: loaded when the lineage page is opened.
const LineagePage = lazy(() => import("./pages/Lineage").then((m) => ({ default: m.LineagePage })));

export function App() {
  return (
    <SessionProvider>
      <Shell />
    </SessionProvider>
  );
}

function Shell() {
  const { user, checking, checkError, signOut } = useSession();
  const location = useLocation();
  const navigate = useNavigate();
  useFocusOnNewPage(location.pathname);

  if (checking) {
    return (
      <main className="page">
        <Loading what="Connecting to Lathe" />
      </main>
    );
  }
  if (!user) {
    if (location.pathname !== "/login") {
      const next = location.pathname + location.search;
      return <Navigate to={`/login${next !== "/" ? `?next=${encodeURIComponent(next)}` : ""}`} replace />;
    }
    return (
      <main className="page narrow">
        <ErrorBanner error={checkError} />
        <LoginPage />
      </main>
    );
  }
  return (
    <>
      <a href="#main" className="skip">
        Skip to content
      </a>
      <header className="top">
        <Link to="/projects" className="brand" aria-label="Lathe home">
          Lathe
        </Link>
        <nav aria-label="Main">
          <NavLink to="/projects">Projects</NavLink>
          <NavLink to="/catalog">Catalog</NavLink>
          <NavLink to="/lineage">Lineage</NavLink>
          <NavLink to="/teams">Teams</NavLink>
          <NavLink to="/keys">API keys</NavLink>
          {user.is_admin && <NavLink to="/admin">Admin</NavLink>}
        </nav>
        <div className="who">
          <NavLink to="/settings">
            <span className="visually-hidden">My settings: </span>
            {user.display_name || user.username}
            {user.is_admin ? " (admin)" : ""}
          </NavLink>
          <button
            type="button"
            onClick={() => {
              void signOut().then(() => navigate("/login"));
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      <main id="main" className="page" tabIndex={-1}>
        <Routes>
          <Route path="/" element={<Navigate to="/projects" replace />} />
          <Route path="/login" element={<AfterSignIn />} />
          <Route path="/projects" element={<ProjectsPage />} />
          <Route path="/projects/:projectId/*" element={<ProjectPage />} />
          <Route path="/keys" element={<KeysPage />} />
          <Route path="/admin/*" element={<AdminPage />} />
          <Route path="/settings" element={<SettingsPage />} />
          <Route path="/teams" element={<TeamsPage />} />
          <Route path="/catalog" element={<CatalogPage />} />
          <Route
            path="/lineage"
            element={
              <Suspense fallback={<Loading what="Loading the lineage page" />}>
                <LineagePage />
              </Suspense>
            }
          />
          <Route path="*" element={<NotFound />} />
        </Routes>
      </main>
    </>
  );
}

// On a new page (not a new tab of the same project), keyboard and screen-reader users start at its
// content, as after a full page load, instead of on the link that is gone or in the header.
function useFocusOnNewPage(pathname: string) {
  const page = pathname.split("/").slice(0, 3).join("/");
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    const main = document.getElementById("main");
    const active = document.activeElement;
    // A field the new page focused itself keeps the focus.
    if (main && (!active || active === document.body || !main.contains(active))) {
      main.focus();
    }
  }, [page]);
}

function NotFound() {
  return (
    <section>
      <h1>Page not found</h1>
      <p>
        There is no page here. Go to your <Link to="/projects">projects</Link>.
      </p>
    </section>
  );
}

// Signed in on /login: on to the page that asked for it (only a path of this site).
function AfterSignIn() {
  const [params] = useSearchParams();
  const next = params.get("next");
  return <Navigate to={next && next.startsWith("/") && !next.startsWith("//") ? next : "/projects"} replace />;
}
