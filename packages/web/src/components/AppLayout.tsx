// The console frame: header (product, project switcher, user), navbar, and the page.
import { Anchor, AppShell, Burger, Group, Text, Title } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { Link, Outlet } from 'react-router';
import { Navigation } from './Navigation.js';
import { ProjectSwitcher } from './ProjectSwitcher.js';
import { UserMenu } from './UserMenu.js';

export function AppLayout() {
  const [opened, { toggle, close }] = useDisclosure();
  return (
    <AppShell
      header={{ height: 56 }}
      navbar={{ width: 230, breakpoint: 'sm', collapsed: { mobile: !opened } }}
      padding="md"
    >
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="md" wrap="nowrap">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Navigation" />
            <Title order={3}>
              <Anchor component={Link} to="/" inherit c="inherit" underline="never">
                ztka
              </Anchor>
            </Title>
            <Text size="sm" c="dimmed" visibleFrom="md">
              zero trust kubectl access
            </Text>
            <ProjectSwitcher />
          </Group>
          <UserMenu />
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs">
        <Navigation onNavigate={close} />
      </AppShell.Navbar>
      <AppShell.Main>
        <Outlet />
      </AppShell.Main>
    </AppShell>
  );
}
