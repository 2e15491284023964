// The navbar. Items a role may not use are not shown.
import { NavLink, ScrollArea } from '@mantine/core';
import { Link, useLocation } from 'react-router';
import { useAuth } from '../lib/auth.js';

interface Item {
  to: string;
  label: string;
  testId: string;
  show: boolean;
}

export function Navigation({ onNavigate }: { onNavigate(): void }) {
  const { caps } = useAuth();
  const { pathname } = useLocation();
  const active = (to: string) => (to === '/' ? pathname === '/' : pathname.startsWith(to));
  const link = (item: Item) =>
    item.show && (
      <NavLink
        key={item.to}
        component={Link}
        to={item.to}
        label={item.label}
        active={active(item.to)}
        onClick={onNavigate}
        data-testid={item.testId}
      />
    );

  const system: Item[] = [
    { to: '/audit', label: 'Audit Logs', testId: 'nav-audit', show: caps.orgReader },
    { to: '/users', label: 'Users & Groups', testId: 'nav-users', show: caps.orgReader },
    { to: '/projects', label: 'Projects', testId: 'nav-projects', show: true },
    { to: '/settings', label: 'Settings', testId: 'nav-settings', show: true },
  ];
  return (
    <ScrollArea>
      {link({ to: '/', label: 'Home', testId: 'nav-home', show: true })}
      <NavLink label="Infrastructure" defaultOpened childrenOffset="md">
        {link({ to: '/clusters', label: 'Clusters', testId: 'nav-clusters', show: true })}
      </NavLink>
      <NavLink label="System" defaultOpened childrenOffset="md">
        {system.map(link)}
      </NavLink>
    </ScrollArea>
  );
}
