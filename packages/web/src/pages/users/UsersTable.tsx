import { Badge, Button, Group, Loader, Modal, PasswordInput, Table, TextInput } from '@mantine/core';
import { useState } from 'react';
import { ConfirmButton } from '../../components/ConfirmButton.js';
import { ErrorAlert } from '../../components/ErrorAlert.js';
import { FormModal } from '../../components/FormModal.js';
import { notifyDone, notifyError } from '../../components/notify.js';
import { api, listAll, seg } from '../../lib/api.js';
import { useAuth } from '../../lib/auth.js';
import type { User } from '../../lib/types.js';
import { useResource } from '../../lib/use-resource.js';
import { RoleAssignments } from './RoleAssignments.js';

export function UsersTable() {
  const { caps, me } = useAuth();
  const users = useResource(() => listAll<User>('/v1/users'), []);
  const [creating, setCreating] = useState(false);
  const [rolesOf, setRolesOf] = useState<string | undefined>();

  const setDisabled = async (u: User, disabled: boolean) => {
    try {
      await api.post(`/v1/users/${seg(u.username)}/${disabled ? 'disable' : 'enable'}`);
      notifyDone(`${u.username} ${disabled ? 'disabled' : 'enabled'}`);
      users.reload();
    } catch (err) {
      notifyError(err);
    }
  };

  return (
    <>
      {caps.orgAdmin && (
        <Group justify="flex-end" mb="sm">
          <Button onClick={() => setCreating(true)} data-testid="create-user">
            Create user
          </Button>
        </Group>
      )}
      <ErrorAlert error={users.error} />
      {users.loading && <Loader size="sm" />}
      {users.data && (
        <Table.ScrollContainer minWidth={700}>
          <Table striped verticalSpacing="sm">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Username</Table.Th>
                <Table.Th>State</Table.Th>
                <Table.Th>Groups</Table.Th>
                <Table.Th>Actions</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {users.data.map((u) => (
                <Table.Tr key={u.username} data-testid={`user-row-${u.username}`}>
                  <Table.Td>{u.username}</Table.Td>
                  <Table.Td>
                    <Group gap={4} wrap="nowrap">
                      {u.disabled ? <Badge color="red">disabled</Badge> : <Badge color="teal">active</Badge>}
                      {u.totp === 'on' && (
                        <Badge color="blue" variant="outline">
                          2FA
                        </Badge>
                      )}
                    </Group>
                  </Table.Td>
                  <Table.Td>
                    <Group gap={4}>
                      {u.groups.map((g) => (
                        <Badge key={g} variant="outline" size="sm">
                          {g}
                        </Badge>
                      ))}
                    </Group>
                  </Table.Td>
                  <Table.Td>
                    <Group gap="xs" wrap="nowrap">
                      <Button size="xs" variant="light" onClick={() => setRolesOf(u.username)}>
                        Roles
                      </Button>
                      {caps.orgAdmin && u.username !== me?.username && (
                        <>
                          <Button
                            size="xs"
                            variant="light"
                            color={u.disabled ? 'teal' : 'orange'}
                            onClick={() => void setDisabled(u, !u.disabled)}
                          >
                            {u.disabled ? 'Enable' : 'Disable'}
                          </Button>
                          {u.totp !== undefined && u.totp !== 'off' && (
                            <ConfirmButton
                              label="Reset 2FA"
                              title={`Reset the two-factor authentication of ${u.username}?`}
                              message="For a lost device: they sign in with their password alone, or set up an app again if the organization requires it."
                              onConfirm={async () => {
                                await api.del(`/v1/users/${seg(u.username)}/totp`);
                                notifyDone(`Two-factor authentication of ${u.username} reset`);
                                users.reload();
                              }}
                            />
                          )}
                          <ConfirmButton
                            label="Delete"
                            title={`Delete ${u.username}?`}
                            message="Their credentials and role assignments are deleted with them."
                            onConfirm={async () => {
                              await api.del(`/v1/users/${seg(u.username)}`);
                              notifyDone(`${u.username} deleted`);
                              users.reload();
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
      <CreateUser opened={creating} onClose={() => setCreating(false)} onCreated={users.reload} />
      <Modal
        opened={rolesOf !== undefined}
        onClose={() => setRolesOf(undefined)}
        title={`Roles of ${rolesOf ?? ''}`}
        size="xl"
      >
        {rolesOf && <RoleAssignments subject={{ user: rolesOf }} />}
      </Modal>
    </>
  );
}

function CreateUser({ opened, onClose, onCreated }: { opened: boolean; onClose(): void; onCreated(): void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const close = () => {
    setUsername('');
    setPassword('');
    onClose();
  };
  return (
    <FormModal
      opened={opened}
      onClose={close}
      title="Create user"
      submitLabel="Create"
      submitDisabled={!username.trim()}
      onSubmit={async () => {
        const name = username.trim();
        await api.post('/v1/users', { username: name, ...(password ? { password } : {}) });
        notifyDone(`${name} created`);
        onCreated();
        setUsername('');
        setPassword('');
      }}
    >
      <TextInput
        label="Email or username"
        placeholder="dev@example.com"
        required
        autoFocus
        value={username}
        onChange={(e) => setUsername(e.currentTarget.value)}
        data-testid="create-user-username"
      />
      <PasswordInput
        label="Password"
        description="Without one the user cannot sign in until a password is set."
        autoComplete="new-password"
        value={password}
        onChange={(e) => setPassword(e.currentTarget.value)}
        data-testid="create-user-password"
      />
    </FormModal>
  );
}
