// Who is signed in (a menu with their org and roles, and their two-factor authentication) and a one-click
// "Log out".
import { Button, Group, Menu, Text } from '@mantine/core';
import { useState } from 'react';
import { useNavigate } from 'react-router';
import { useAuth } from '../lib/auth.js';
import { describeAssignment } from '../lib/capabilities.js';
import { TwoFactorModal } from './TwoFactorModal.js';

export function UserMenu() {
  const { me, logout } = useAuth();
  const navigate = useNavigate();
  const [twoFactor, setTwoFactor] = useState(false);
  if (!me) return null;
  const signOut = () => {
    void logout().finally(() => navigate('/login', { replace: true }));
  };
  return (
    <Group gap="xs" wrap="nowrap">
      <Menu position="bottom-end" width={280} withinPortal>
        <Menu.Target>
          <Button variant="subtle" size="sm" data-testid="user-menu">
            {me.username}
          </Button>
        </Menu.Target>
        <Menu.Dropdown>
          <Menu.Label>Organization</Menu.Label>
          <Menu.Item disabled>{me.org}</Menu.Item>
          <Menu.Label>Roles</Menu.Label>
          {me.roles.length === 0 && <Menu.Item disabled>none</Menu.Item>}
          {me.roles.map((r) => (
            <Menu.Item key={r.id} disabled>
              <Text size="xs">{describeAssignment(r)}</Text>
            </Menu.Item>
          ))}
          <Menu.Divider />
          <Menu.Item onClick={() => setTwoFactor(true)} data-testid="user-menu-two-factor">
            Two-factor authentication{me.totp === 'on' ? ' (on)' : ''}
          </Menu.Item>
          <Menu.Item color="red" onClick={signOut}>
            Log out
          </Menu.Item>
        </Menu.Dropdown>
      </Menu>
      <Button variant="default" size="xs" onClick={signOut} data-testid="logout">
        Log out
      </Button>
      <TwoFactorModal opened={twoFactor} onClose={() => setTwoFactor(false)} />
    </Group>
  );
}
