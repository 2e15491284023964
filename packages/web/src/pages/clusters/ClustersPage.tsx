// Infrastructure → Clusters: the selected project's clusters with live status (refreshed every 5 s), the
// Kubectl link to the browser shell, kubeconfig download, and registration/deletion for cluster admins.
import { Alert, Badge, Button, Group, Loader, Table, Text } from '@mantine/core';
import { useState } from 'react';
import { Link } from 'react-router';
import { ErrorAlert } from '../../components/ErrorAlert.js';
import { PageHeader } from '../../components/PageHeader.js';
import { RelativeTime } from '../../components/RelativeTime.js';
import { api, listAll } from '../../lib/api.js';
import { useAuth } from '../../lib/auth.js';
import { useProject } from '../../lib/project.js';
import type { Cluster, Settings } from '../../lib/types.js';
import { useResource } from '../../lib/use-resource.js';
import { DeleteClusterButton, DownloadKubeconfigButton } from './ClusterActions.js';
import { RegisterClusterModal } from './RegisterClusterModal.js';

export const STATUS_REFRESH_MS = 5000;

export function ClusterStatus({ cluster }: { cluster: Cluster }) {
  return (
    <Badge
      color={cluster.connected ? 'teal' : 'gray'}
      variant={cluster.connected ? 'filled' : 'light'}
      data-testid={`cluster-status-${cluster.name}`}
    >
      {cluster.connected ? 'connected' : 'disconnected'}
    </Badge>
  );
}

export function ClustersPage() {
  const { caps } = useAuth();
  const { project, loading: projectsLoading } = useProject();
  const [registering, setRegistering] = useState(false);
  const clusters = useResource(
    async () => (project ? listAll<Cluster>('/v1/clusters', { project }) : []),
    [project],
    STATUS_REFRESH_MS,
  );
  const canManage = caps.manageClusters(project);
  // Channels the org switched off are not offered (the API would refuse them anyway).
  const settings = useResource(() => api.get<Settings>('/v1/settings'), []);
  const webKubectl = settings.data?.webKubectl !== false;
  const cliKubectl = settings.data?.cliKubectl !== false;

  if (!project)
    return projectsLoading ? (
      <Loader />
    ) : (
      <Alert color="gray">You have no project yet. An administrator can give you a role in one.</Alert>
    );

  return (
    <>
      <PageHeader title="Clusters" subtitle={`Project ${project}`}>
        {canManage && (
          <Button onClick={() => setRegistering(true)} data-testid="register-cluster">
            Register cluster
          </Button>
        )}
      </PageHeader>
      {clusters.error !== undefined && <ErrorAlert error={clusters.error} title="Could not list clusters" />}
      {clusters.loading && <Loader size="sm" />}
      {clusters.data && (
        <Table.ScrollContainer minWidth={800}>
          <Table striped highlightOnHover verticalSpacing="sm">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Kubernetes</Table.Th>
                <Table.Th>Agent</Table.Th>
                <Table.Th>Last seen</Table.Th>
                <Table.Th>Actions</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {clusters.data.length === 0 && (
                <Table.Tr>
                  <Table.Td colSpan={6}>
                    <Text c="dimmed" size="sm">
                      No clusters in {project} yet.
                    </Text>
                  </Table.Td>
                </Table.Tr>
              )}
              {clusters.data.map((c) => (
                <Table.Tr key={c.name} data-testid={`cluster-row-${c.name}`}>
                  <Table.Td fw={500}>{c.name}</Table.Td>
                  <Table.Td>
                    <ClusterStatus cluster={c} />
                  </Table.Td>
                  <Table.Td>{c.kubeVersion ?? '—'}</Table.Td>
                  <Table.Td>{c.agentVersion ?? '—'}</Table.Td>
                  <Table.Td>
                    <RelativeTime value={c.lastSeenAt} />
                  </Table.Td>
                  <Table.Td>
                    <Group gap="xs" wrap="nowrap">
                      {webKubectl ? (
                        <Button
                          size="xs"
                          component={Link}
                          to={`/shell/${encodeURIComponent(c.name)}`}
                          data-testid={`kubectl-${c.name}`}
                        >
                          Kubectl
                        </Button>
                      ) : (
                        <Button size="xs" disabled title="Web kubectl is switched off in Settings">
                          Kubectl
                        </Button>
                      )}
                      {cliKubectl && <DownloadKubeconfigButton cluster={c.name} />}
                      {canManage && <DeleteClusterButton cluster={c.name} onDeleted={clusters.reload} />}
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <RegisterClusterModal
        project={project}
        opened={registering}
        onClose={() => setRegistering(false)}
        onRegistered={clusters.reload}
      />
    </>
  );
}
