import { Badge, Button, CloseButton, Group, Loader, Modal, Select, Table, TextInput } from '@mantine/core';
import { useState } from 'react';
import { ConfirmButton } from '../../components/ConfirmButton.js';
import { ErrorAlert } from '../../components/ErrorAlert.js';
import { FormModal } from '../../components/FormModal.js';
import { notifyDone, notifyError } from '../../components/notify.js';
import { api, listAll, seg } from '../../lib/api.js';
import { useAuth } from '../../lib/auth.js';
import type { Group as GroupT, User } from '../../lib/types.js';
import { useResource } from '../../lib/use-resource.js';
import { RoleAssignments } from './RoleAssignments.js';

export function GroupsTable() {
  const { caps } = useAuth();
  const groups = useResource(() => listAll<GroupT>('/v1/groups'), []);
  const [creating, setCreating] = useState(false);
  const [addingTo, setAddingTo] = useState<string | undefined>();
  const [rolesOf, setRolesOf] = useState<string | undefined>();

  const removeMember = async (group: string, user: string) => {
    try {
      await api.del(`/v1/groups/${seg(group)}/members/${seg(user)}`);
      groups.reload();
    } catch (err) {
      notifyError(err);
    }
  };

  return (
    <>
      {caps.orgAdmin && (
        <Group justify="flex-end" mb="sm">
          <Button onClick={() => setCreating(true)} data-testid="create-group">
            Create group
          </Button>
        </Group>
      )}
      <ErrorAlert error={groups.error} />
      {groups.loading && <Loader size="sm" />}
      {groups.data && (
        <Table.ScrollContainer minWidth={700}>
          <Table striped verticalSpacing="sm">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Group</Table.Th>
                <Table.Th>Members</Table.Th>
                <Table.Th>Actions</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {groups.data.map((g) => (
                <Table.Tr key={g.name} data-testid={`group-row-${g.name}`}>
                  <Table.Td>{g.name}</Table.Td>
                  <Table.Td>
                    <Group gap={4}>
                      {g.members.map((m) => (
                        <Badge
                          key={m}
                          variant="outline"
                          size="sm"
                          rightSection={
                            caps.orgAdmin && (
                              <CloseButton
                                size="xs"
                                aria-label={`Remove ${m}`}
                                onClick={() => void removeMember(g.name, m)}
                              />
                            )
                          }
                        >
                          {m}
                        </Badge>
                      ))}
                    </Group>
                  </Table.Td>
                  <Table.Td>
                    <Group gap="xs" wrap="nowrap">
                      <Button size="xs" variant="light" onClick={() => setRolesOf(g.name)}>
                        Roles
                      </Button>
                      {caps.orgAdmin && (
                        <>
                          <Button size="xs" variant="light" onClick={() => setAddingTo(g.name)}>
                            Add member
                          </Button>
                          <ConfirmButton
                            label="Delete"
                            title={`Delete group ${g.name}?`}
                            message="Its members lose the roles they held through it."
                            onConfirm={async () => {
                              await api.del(`/v1/groups/${seg(g.name)}`);
                              notifyDone(`Group ${g.name} deleted`);
                              groups.reload();
                            }}
                          />
                        </>
                      )}
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <CreateGroup opened={creating} onClose={() => setCreating(false)} onCreated={groups.reload} />
      <AddMember group={addingTo} onClose={() => setAddingTo(undefined)} onAdded={groups.reload} />
      <Modal
        opened={rolesOf !== undefined}
        onClose={() => setRolesOf(undefined)}
        title={`Roles of group ${rolesOf ?? ''}`}
        size="xl"
      >
        {rolesOf && <RoleAssignments subject={{ group: rolesOf }} />}
      </Modal>
    </>
  );
}

function CreateGroup({
  opened,
  onClose,
  onCreated,
}: {
  opened: boolean;
  onClose(): void;
  onCreated(): void;
}) {
  const [name, setName] = useState('');
  return (
    <FormModal
      opened={opened}
      onClose={() => {
        setName('');
        onClose();
      }}
      title="Create group"
      submitLabel="Create"
      submitDisabled={!name.trim()}
      onSubmit={async () => {
        await api.post('/v1/groups', { name: name.trim() });
        notifyDone(`Group ${name.trim()} created`);
        onCreated();
        setName('');
      }}
    >
      <TextInput
        label="Name"
        placeholder="developers"
        required
        autoFocus
        value={name}
        onChange={(e) => setName(e.currentTarget.value)}
      />
    </FormModal>
  );
}

function AddMember({
  group,
  onClose,
  onAdded,
}: {
  group: string | undefined;
  onClose(): void;
  onAdded(): void;
}) {
  const users = useResource(async () => (group ? listAll<User>('/v1/users') : []), [group]);
  const [user, setUser] = useState<string | null>(null);
  return (
    <FormModal
      opened={group !== undefined}
      onClose={() => {
        setUser(null);
        onClose();
      }}
      title={`Add a member to ${group ?? ''}`}
      submitLabel="Add"
      submitDisabled={!user}
      onSubmit={async () => {
        if (!group || !user) return;
        await api.put(`/v1/groups/${seg(group)}/members/${seg(user)}`);
        onAdded();
        setUser(null);
      }}
    >
      <Select
        label="User"
        data={(users.data ?? []).map((u) => u.username)}
        value={user}
        onChange={setUser}
        searchable
        nothingFoundMessage="No such user"
      />
    </FormModal>
  );
}
