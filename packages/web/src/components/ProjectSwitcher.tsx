import { Select } from '@mantine/core';
import { useProject } from '../lib/project.js';

/** The header's project Select; its input carries data-testid="project-switcher". */
export function ProjectSwitcher() {
  const { projects, project, setProject, loading } = useProject();
  return (
    <Select
      data-testid="project-switcher"
      aria-label="Project"
      placeholder={loading ? 'Loading projects…' : 'No project'}
      data={projects.map((p) => p.name)}
      value={project ?? null}
      onChange={(value) => value && setProject(value)}
      allowDeselect={false}
      searchable
      nothingFoundMessage="No such project"
      w={220}
      size="sm"
    />
  );
}
