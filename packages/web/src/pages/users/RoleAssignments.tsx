// The role assignments of one user or group: listed for org readers, assigned and revoked by admins.
import { Badge, Button, Group, Loader, Select, Stack, Table, TagsInput, Text, Title } from '@mantine/core';
import { useState } from 'react';
import { NAMESPACE_ROLES, ORG_ROLES, ROLES, type Role } from '@ztka/protocol/roles';
import { ErrorAlert } from '../../components/ErrorAlert.js';
import { notifyError } from '../../components/notify.js';
import { api, listAll, seg } from '../../lib/api.js';
import { useAuth } from '../../lib/auth.js';
import { useProject } from '../../lib/project.js';
import type { RoleAssignment } from '../../lib/types.js';
import { useResource } from '../../lib/use-resource.js';

export type Subject = { user: string } | { group: string };

export function RoleAssignments({ subject }: { subject: Subject }) {
  const { caps, refresh } = useAuth();
  const assignments = useResource(() => listAll<RoleAssignment>('/v1/role-assignments', subject), [subject]);
  const changed = () => {
    assignments.reload();
    void refresh().catch(() => undefined); // the person's own roles may have changed
  };
  const revoke = async (id: string) => {
    try {
      await api.del(`/v1/role-assignments/${seg(id)}`);
      changed();
    } catch (err) {
      notifyError(err, 'Could not revoke the role');
    }
  };

  return (
    <Stack>
      <ErrorAlert error={assignments.error} />
      {assignments.loading && <Loader size="sm" />}
      {assignments.data && (
        <Table verticalSpacing={6} data-testid="role-assignments">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Role</Table.Th>
              <Table.Th>Project</Table.Th>
              <Table.Th>Namespaces</Table.Th>
              {caps.orgAdmin && <Table.Th />}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {assignments.data.length === 0 && (
              <Table.Tr>
                <Table.Td colSpan={4}>
                  <Text size="sm" c="dimmed">
                    No roles.
                  </Text>
                </Table.Td>
              </Table.Tr>
            )}
            {assignments.data.map((a) => (
              <Table.Tr key={a.id}>
                <Table.Td>
                  <Badge variant="light">{a.role}</Badge>
                </Table.Td>
                <Table.Td>{a.project ?? 'all (org)'}</Table.Td>
                <Table.Td>{a.namespaces?.join(', ') ?? ''}</Table.Td>
                {caps.orgAdmin && (
                  <Table.Td>
                    <Button size="xs" variant="light" color="red" onClick={() => void revoke(a.id)}>
                      Revoke
                    </Button>
                  </Table.Td>
                )}
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      {caps.orgAdmin && <AssignRole subject={subject} onAssigned={changed} />}
    </Stack>
  );
}

function AssignRole({ subject, onAssigned }: { subject: Subject; onAssigned(): void }) {
  const { projects } = useProject();
  const [role, setRole] = useState<Role | null>(null);
  const [project, setProject] = useState<string | null>(null);
  const [namespaces, setNamespaces] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();

  const needsProject = role !== null && !ORG_ROLES.has(role);
  const needsNamespaces = role !== null && NAMESPACE_ROLES.has(role);
  const ready = role !== null && (!needsProject || project) && (!needsNamespaces || namespaces.length > 0);

  const assign = async () => {
    if (!role) return;
    setBusy(true);
    setError(undefined);
    try {
      await api.post('/v1/role-assignments', {
        ...subject,
        role,
        ...(needsProject && project ? { project } : {}),
        ...(needsNamespaces ? { namespaces } : {}),
      });
      setRole(null);
      setProject(null);
      setNamespaces([]);
      onAssigned();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Stack gap="xs">
      <Title order={5}>Assign a role</Title>
      <Group align="flex-end" gap="xs">
        <Select
          label="Role"
          data={[...ROLES]}
          value={role}
          onChange={(v) => setRole(v as Role | null)}
          w={210}
          data-testid="assign-role"
        />
        {needsProject && (
          <Select
            label="Project"
            data={projects.map((p) => p.name)}
            value={project}
            onChange={setProject}
            searchable
            w={180}
            data-testid="assign-project"
          />
        )}
        {needsNamespaces && (
          <TagsInput
            label="Namespaces"
            placeholder="Type a namespace, press Enter"
            value={namespaces}
            onChange={setNamespaces}
            w={260}
            data-testid="assign-namespaces"
          />
        )}
        <Button onClick={() => void assign()} loading={busy} disabled={!ready} data-testid="assign-submit">
          Assign
        </Button>
      </Group>
      <ErrorAlert error={error} />
    </Stack>
  );
}
