// System → Users & Groups: org admins manage, ADMIN_READ_ONLY reads (no buttons), others are not sent here.
import { Alert, Tabs } from '@mantine/core';
import { PageHeader } from '../../components/PageHeader.js';
import { useAuth } from '../../lib/auth.js';
import { GroupsTable } from './GroupsTable.js';
import { UsersTable } from './UsersTable.js';

export function UsersPage() {
  const { caps } = useAuth();
  if (!caps.orgReader) return <Alert color="gray">Users and groups are for org administrators.</Alert>;
  return (
    <>
      <PageHeader
        title="Users & Groups"
        subtitle={caps.orgAdmin ? undefined : 'Read only: your role may view but not change these.'}
      />
      <Tabs defaultValue="users" keepMounted={false}>
        <Tabs.List mb="md">
          <Tabs.Tab value="users" data-testid="users-tab-users">
            Users
          </Tabs.Tab>
          <Tabs.Tab value="groups" data-testid="users-tab-groups">
            Groups
          </Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="users">
          <UsersTable />
        </Tabs.Panel>
        <Tabs.Panel value="groups">
          <GroupsTable />
        </Tabs.Panel>
      </Tabs>
    </>
  );
}
