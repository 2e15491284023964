// The project the console is looking at: chosen in the header, remembered in localStorage, and by default
// "desktop" when the person can see it, else their first project.
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';
import { listAll } from './api.js';
import { pickProject } from './project-choice.js';
import type { Project } from './types.js';
import { useResource } from './use-resource.js';

const KEY = 'ztka.project';

export interface ProjectValue {
  projects: Project[];
  /** The selected project; undefined while loading or when the person sees none. */
  project: string | undefined;
  setProject(name: string): void;
  loading: boolean;
  error: unknown;
  reload(): void;
}

const ProjectContext = createContext<ProjectValue | undefined>(undefined);

function stored(): string | undefined {
  try {
    return localStorage.getItem(KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

export function ProjectProvider({ children }: { children: ReactNode }) {
  const { data, loading, error, reload } = useResource(() => listAll<Project>('/v1/projects'), []);
  const [remembered, setRemembered] = useState(stored);
  const projects = useMemo(() => data ?? [], [data]);
  const project = pickProject(
    projects.map((p) => p.name),
    remembered,
  );

  const setProject = useCallback((name: string) => {
    setRemembered(name);
    try {
      localStorage.setItem(KEY, name);
    } catch {
      // not remembered across reloads, still selected
    }
  }, []);

  const value = useMemo(
    () => ({ projects, project, setProject, loading, error, reload }),
    [projects, project, setProject, loading, error, reload],
  );
  return <ProjectContext.Provider value={value}>{children}</ProjectContext.Provider>;
}

export function useProject(): ProjectValue {
  const value = useContext(ProjectContext);
  if (!value) throw new Error('useProject outside ProjectProvider');
  return value;
}
