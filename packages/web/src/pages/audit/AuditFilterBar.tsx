// The filters of the list on screen: time range, then what that list can be filtered by, then free text.
import { Badge, Button, CloseButton, Group, Select, TextInput } from '@mantine/core';
import { listAll } from '../../lib/api.js';
import { FILTERS_OF, type AuditFilters, type AuditList, type TimeRange } from '../../lib/audit-query.js';
import { useProject } from '../../lib/project.js';
import type { Cluster, User } from '../../lib/types.js';
import { useResource } from '../../lib/use-resource.js';
import { FilterText } from './FilterInputs.js';

const RANGES: { value: TimeRange; label: string }[] = [
  { value: '10m', label: 'Last 10 minutes' },
  { value: '1h', label: 'Last hour' },
  { value: '24h', label: 'Last 24 hours' },
  { value: '7d', label: 'Last 7 days' },
  { value: 'all', label: 'All time' },
  { value: 'custom', label: 'Custom range' },
];
const VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'];
const STATUSES = [
  { value: '2xx', label: '2xx success' },
  { value: '4xx', label: '4xx refused' },
  { value: '5xx', label: '5xx failed' },
];
const CHANNELS = [
  { value: 'cli', label: 'cli' },
  { value: 'web-shell', label: 'web-shell' },
];

interface Props {
  list: AuditList;
  filters: AuditFilters;
  onChange(patch: Partial<AuditFilters>): void;
  onClear(): void;
}

export function AuditFilterBar({ list, filters, onChange, onClear }: Props) {
  const { projects } = useProject();
  const shown = new Set(FILTERS_OF[list]);
  const clusters = useResource(() => listAll<Cluster>('/v1/clusters'), []);
  const users = useResource(() => listAll<User>('/v1/users'), []);
  const select = (key: 'project' | 'verb' | 'status' | 'channel', label: string, data: Data) =>
    shown.has(key) && (
      <Select
        label={label}
        placeholder="Any"
        data={data}
        value={filters[key] || null}
        onChange={(v) => onChange({ [key]: v ?? '' })}
        clearable
        searchable={key === 'project'}
        size="xs"
        w={130}
        data-testid={`audit-filter-${key}`}
      />
    );
  const text = (key: 'namespace' | 'resource', label: string, placeholder: string) =>
    shown.has(key) && (
      <FilterText
        label={label}
        placeholder={placeholder}
        value={filters[key]}
        onCommit={(v) => onChange({ [key]: v })}
        w={130}
        data-testid={`audit-filter-${key}`}
      />
    );

  return (
    <Group align="flex-end" gap="xs" mb="sm" wrap="wrap">
      <Select
        label="Time"
        data={RANGES}
        value={filters.range}
        onChange={(v) => v && onChange({ range: v as TimeRange })}
        allowDeselect={false}
        size="xs"
        w={150}
        data-testid="audit-filter-time"
      />
      {filters.range === 'custom' && (
        <>
          <TextInput
            type="datetime-local"
            label="Since"
            value={filters.since}
            onChange={(e) => onChange({ since: e.currentTarget.value })}
            size="xs"
            data-testid="audit-filter-since"
          />
          <TextInput
            type="datetime-local"
            label="Until"
            value={filters.until}
            onChange={(e) => onChange({ until: e.currentTarget.value })}
            size="xs"
            data-testid="audit-filter-until"
          />
        </>
      )}
      {select(
        'project',
        'Project',
        projects.map((p) => p.name),
      )}
      {shown.has('cluster') && (
        <FilterText
          label="Cluster"
          placeholder="Any"
          value={filters.cluster}
          onCommit={(v) => onChange({ cluster: v })}
          suggestions={(clusters.data ?? []).map((c) => c.name)}
          w={150}
          data-testid="audit-filter-cluster"
        />
      )}
      <FilterText
        label="User"
        placeholder="Any"
        value={filters.user}
        onCommit={(v) => onChange({ user: v })}
        suggestions={(users.data ?? []).map((u) => u.username)}
        w={180}
        data-testid="audit-filter-user"
      />
      {text('namespace', 'Namespace', 'Any')}
      {text('resource', 'Kind', 'e.g. pods')}
      {select('verb', 'Method', VERBS)}
      {select('status', 'Status', STATUSES)}
      {select('channel', 'Channel', CHANNELS)}
      <FilterText
        label="Search"
        placeholder={list === 'system' ? 'event or detail' : list === 'api' ? 'request URI' : 'command line'}
        value={filters.q}
        onCommit={(v) => onChange({ q: v })}
        w={200}
        data-testid="audit-search"
      />
      <Button size="xs" variant="subtle" onClick={onClear}>
        Clear filters
      </Button>
      {shown.has('kubectlSession') && filters.kubectlSession && (
        <SessionBadge
          label="kubectl session"
          value={filters.kubectlSession}
          onClear={() => onChange({ kubectlSession: '' })}
        />
      )}
      {shown.has('session') && filters.session && (
        <SessionBadge
          label="shell session"
          value={filters.session}
          onClear={() => onChange({ session: '' })}
        />
      )}
    </Group>
  );
}

type Data = string[] | { value: string; label: string }[];

function SessionBadge({ label, value, onClear }: { label: string; value: string; onClear(): void }) {
  return (
    <Badge
      size="lg"
      variant="light"
      rightSection={<CloseButton size="xs" onClick={onClear} aria-label={`Remove the ${label} filter`} />}
      data-testid="audit-session-filter"
    >
      {label}: {value}
    </Badge>
  );
}
