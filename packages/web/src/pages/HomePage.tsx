// Home: who is signed in and the ways in.
import { Anchor, Badge, Card, Group, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { Link } from 'react-router';
import { useAuth } from '../lib/auth.js';
import { describeAssignment } from '../lib/capabilities.js';
import { useProject } from '../lib/project.js';

export function HomePage() {
  const { me, caps } = useAuth();
  const { project } = useProject();
  if (!me) return null;
  return (
    <Stack>
      <div>
        <Title order={2}>Welcome, {me.username}</Title>
        <Text c="dimmed" size="sm">
          Organization {me.org}
        </Text>
      </div>
      <Group gap="xs">
        {me.roles.map((r) => (
          <Badge key={r.id} variant="light">
            {describeAssignment(r)}
          </Badge>
        ))}
      </Group>
      <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }}>
        <Card withBorder>
          <Title order={4}>Clusters</Title>
          <Text size="sm" my="xs">
            Reach the clusters of {project ? `project ${project}` : 'your projects'} with kubectl in the
            browser, or download a kubeconfig.
          </Text>
          <Anchor component={Link} to="/clusters">
            Infrastructure → Clusters
          </Anchor>
        </Card>
        {caps.orgReader && (
          <Card withBorder>
            <Title order={4}>Audit logs</Title>
            <Text size="sm" my="xs">
              Every kubectl call and command line, and every sign-in and change, in one tamper-evident trail.
            </Text>
            <Anchor component={Link} to="/audit">
              System → Audit Logs
            </Anchor>
          </Card>
        )}
        {caps.orgReader && (
          <Card withBorder>
            <Title order={4}>Users & Groups</Title>
            <Text size="sm" my="xs">
              Who may reach which project, with which role.
            </Text>
            <Anchor component={Link} to="/users">
              System → Users & Groups
            </Anchor>
          </Card>
        )}
      </SimpleGrid>
    </Stack>
  );
}
