// System → Projects: the projects the person can see; ADMIN creates and deletes them.
import { Anchor, Badge, Button, Table, Text, TextInput } from '@mantine/core';
import { useState } from 'react';
import { useNavigate } from 'react-router';
import { ConfirmButton } from '../components/ConfirmButton.js';
import { ErrorAlert } from '../components/ErrorAlert.js';
import { FormModal } from '../components/FormModal.js';
import { PageHeader } from '../components/PageHeader.js';
import { notifyDone } from '../components/notify.js';
import { api, seg } from '../lib/api.js';
import { useAuth } from '../lib/auth.js';
import { useProject } from '../lib/project.js';
import { localTime } from '../lib/time.js';

export function ProjectsPage() {
  const { caps } = useAuth();
  const { projects, project: selected, setProject, error, reload } = useProject();
  const navigate = useNavigate();
  const [creating, setCreating] = useState(false);
  const [name, setName] = useState('');

  return (
    <>
      <PageHeader title="Projects" subtitle="Clusters belong to projects; roles are given per project.">
        {caps.orgAdmin && (
          <Button onClick={() => setCreating(true)} data-testid="create-project">
            Create project
          </Button>
        )}
      </PageHeader>
      <ErrorAlert error={error} />
      <Table striped verticalSpacing="sm">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>Clusters</Table.Th>
            <Table.Th>Created</Table.Th>
            {caps.orgAdmin && <Table.Th />}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {projects.length === 0 && (
            <Table.Tr>
              <Table.Td colSpan={4}>
                <Text size="sm" c="dimmed">
                  No projects.
                </Text>
              </Table.Td>
            </Table.Tr>
          )}
          {projects.map((p) => (
            <Table.Tr key={p.name} data-testid={`project-row-${p.name}`}>
              <Table.Td>
                <Anchor
                  component="button"
                  type="button"
                  onClick={() => {
                    setProject(p.name);
                    navigate('/clusters');
                  }}
                >
                  {p.name}
                </Anchor>{' '}
                {p.name === selected && (
                  <Badge size="xs" variant="light">
                    selected
                  </Badge>
                )}
              </Table.Td>
              <Table.Td>{p.clusters}</Table.Td>
              <Table.Td title={p.createdAt}>{localTime(p.createdAt)}</Table.Td>
              {caps.orgAdmin && (
                <Table.Td>
                  <ConfirmButton
                    label="Delete"
                    title={`Delete project ${p.name}?`}
                    message="A project that still has clusters cannot be deleted."
                    onConfirm={async () => {
                      await api.del(`/v1/projects/${seg(p.name)}`);
                      notifyDone(`Project ${p.name} deleted`);
                      reload();
                    }}
                  />
                </Table.Td>
              )}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      <FormModal
        opened={creating}
        onClose={() => {
          setName('');
          setCreating(false);
        }}
        title="Create project"
        submitLabel="Create"
        submitDisabled={!name.trim()}
        onSubmit={async () => {
          await api.post('/v1/projects', { name: name.trim() });
          notifyDone(`Project ${name.trim()} created`);
          reload();
        }}
      >
        <TextInput
          label="Name"
          placeholder="desktop"
          required
          autoFocus
          value={name}
          onChange={(e) => setName(e.currentTarget.value)}
          data-testid="create-project-name"
        />
      </FormModal>
    </>
  );
}
