// System → Audit Logs, for org readers: Kubectl (by API call or by command) and System events, filtered,
// paged and exportable. The tab, view and filters live in the URL, so a view can be shared or reloaded.
import { Alert, Button, Group, Loader, Modal, SegmentedControl, Tabs } from '@mantine/core';
import { useState } from 'react';
import { useSearchParams } from 'react-router';
import { CodeBlock } from '../../components/CodeBlock.js';
import { ErrorAlert } from '../../components/ErrorAlert.js';
import { PageHeader } from '../../components/PageHeader.js';
import {
  auditStateFromSearch,
  auditStateToSearch,
  drillDown,
  emptyFilters,
  exportHref,
  listOf,
  type AuditFilters,
  type AuditState,
  type AuditTab,
  type KubectlView,
} from '../../lib/audit-query.js';
import { useAuth } from '../../lib/auth.js';
import type { ApiRecord, CommandEntry, SystemRecord } from '../../lib/types.js';
import { AuditFilterBar } from './AuditFilterBar.js';
import { ApiTable, CommandsTable, SystemTable } from './AuditTables.js';
import { useAuditList } from './use-audit-list.js';

const VIEWS = [
  { value: 'api', label: <span data-testid="audit-view-api">API</span> },
  { value: 'commands', label: <span data-testid="audit-view-commands">Commands</span> },
];

export function AuditPage() {
  const { caps } = useAuth();
  if (!caps.orgReader) return <Alert color="gray">Audit logs are for org administrators.</Alert>;
  return <AuditView />;
}

function AuditView() {
  const [params, setParams] = useSearchParams();
  const state = auditStateFromSearch(params);
  const list = listOf(state);
  const [refresh, setRefresh] = useState(0);
  const [record, setRecord] = useState<ApiRecord | SystemRecord | undefined>();
  const result = useAuditList<ApiRecord | CommandEntry | SystemRecord>(list, state.filters, refresh);

  const go = (next: AuditState, replace = false) => setParams(auditStateToSearch(next), { replace });
  const setFilters = (patch: Partial<AuditFilters>) =>
    setParams(
      (prev) => {
        const s = auditStateFromSearch(prev);
        return auditStateToSearch({ ...s, filters: { ...s.filters, ...patch } });
      },
      { replace: true },
    );
  const openCommand = (c: CommandEntry) => {
    const next = drillDown(state, c);
    if (next) go(next);
  };

  return (
    <>
      <PageHeader title="Audit Logs" subtitle="Who did what, when, on which cluster">
        <Button
          component="a"
          href={exportHref(list, state.filters, 'csv')}
          download
          size="xs"
          variant="light"
          data-testid="audit-export-csv"
        >
          Export CSV
        </Button>
        <Button
          component="a"
          href={exportHref(list, state.filters, 'jsonl')}
          download
          size="xs"
          variant="light"
          data-testid="audit-export-json"
        >
          Export JSON
        </Button>
        <Button
          size="xs"
          variant="default"
          onClick={() => setRefresh((r) => r + 1)}
          data-testid="audit-refresh"
        >
          Refresh
        </Button>
      </PageHeader>
      <Tabs value={state.tab} onChange={(t) => t && go({ ...state, tab: t as AuditTab })} keepMounted={false}>
        <Tabs.List mb="sm">
          <Tabs.Tab value="kubectl" data-testid="audit-tab-kubectl">
            Kubectl
          </Tabs.Tab>
          <Tabs.Tab value="system" data-testid="audit-tab-system">
            System
          </Tabs.Tab>
        </Tabs.List>
      </Tabs>
      {state.tab === 'kubectl' && (
        <SegmentedControl
          mb="sm"
          data={VIEWS}
          value={state.view}
          onChange={(v) => go({ ...state, view: v as KubectlView })}
          data-testid="audit-view"
        />
      )}
      <AuditFilterBar
        list={list}
        filters={state.filters}
        onChange={setFilters}
        onClear={() => go({ ...state, filters: emptyFilters() }, true)}
      />
      <ErrorAlert error={result.error} title="Could not read the audit trail" />
      {list === 'api' && <ApiTable items={result.items as ApiRecord[]} onOpen={setRecord} />}
      {list === 'commands' && <CommandsTable items={result.items as CommandEntry[]} onOpen={openCommand} />}
      {list === 'system' && <SystemTable items={result.items as SystemRecord[]} onOpen={setRecord} />}
      <Group justify="center" mt="md">
        {result.loading && <Loader size="sm" />}
        {!result.loading && result.hasMore && (
          <Button variant="light" onClick={result.loadMore} data-testid="audit-load-more">
            Load more
          </Button>
        )}
      </Group>
      <Modal
        opened={record !== undefined}
        onClose={() => setRecord(undefined)}
        title="Audit record"
        size="xl"
      >
        {record && <CodeBlock text={JSON.stringify(record, null, 2)} maxHeight={520} />}
      </Modal>
    </>
  );
}
