// The three audit tables. Every value is rendered as text: a namespace or label holding markup shows as
// that markup, never as HTML.
import { Anchor, Badge, Code, Table, Text } from '@mantine/core';
import type { ReactNode } from 'react';
import { detailText, formatMs, resourcePath, statusColor } from '../../lib/audit-format.js';
import { isoTime, localTime } from '../../lib/time.js';
import type { ApiRecord, CommandEntry, SystemRecord } from '../../lib/types.js';

function Time({ at }: { at: string | number }) {
  return (
    <Text span size="xs" title={isoTime(at)} style={{ whiteSpace: 'nowrap' }}>
      {localTime(at)}
    </Text>
  );
}

function Grid({ head, children, empty }: { head: string[]; children: ReactNode[]; empty: boolean }) {
  return (
    <Table.ScrollContainer minWidth={900}>
      <Table striped highlightOnHover verticalSpacing={6} fz="sm">
        <Table.Thead>
          <Table.Tr>
            {head.map((h) => (
              <Table.Th key={h}>{h}</Table.Th>
            ))}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {empty ? (
            <Table.Tr>
              <Table.Td colSpan={head.length}>
                <Text c="dimmed" size="sm">
                  No records match.
                </Text>
              </Table.Td>
            </Table.Tr>
          ) : (
            children
          )}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

/** Why a request has more than one row: the stages of audit.k8s.io, one record each. */
const STAGE_TITLES: Record<ApiRecord['stage'], string> = {
  RequestReceived: 'recorded before the request was forwarded; its answer has a row of its own',
  ResponseStarted: 'recorded before a long-running request was forwarded; its end has a row of its own',
  ResponseComplete: 'the answer, as the client received it',
};

export function ApiTable({ items, onOpen }: { items: ApiRecord[]; onOpen(r: ApiRecord): void }) {
  return (
    <Grid
      head={['Time', 'User', 'Cluster', 'Verb', 'Resource', 'Status', 'Stage', 'Channel', 'Duration']}
      empty={items.length === 0}
    >
      {items.map((r) => (
        // The stages of one request share its id; seq is the record's own.
        <Table.Tr key={r.seq} data-testid="audit-row" onClick={() => onOpen(r)} style={{ cursor: 'pointer' }}>
          <Table.Td>
            <Time at={r.at} />
          </Table.Td>
          <Table.Td>{r.user ?? '—'}</Table.Td>
          <Table.Td>{r.cluster}</Table.Td>
          <Table.Td>{r.verb}</Table.Td>
          <Table.Td title={`${r.method} ${r.requestURI}`} style={{ wordBreak: 'break-all' }}>
            {resourcePath(r)}
          </Table.Td>
          <Table.Td>
            <Badge color={statusColor(r.status)} variant="light" title={r.reason}>
              {r.status || 'none'}
            </Badge>
          </Table.Td>
          <Table.Td title={STAGE_TITLES[r.stage]} data-testid="audit-stage">
            {r.stage}
          </Table.Td>
          <Table.Td>{r.channel ?? ''}</Table.Td>
          <Table.Td style={{ whiteSpace: 'nowrap' }}>{formatMs(r.durationMs)}</Table.Td>
        </Table.Tr>
      ))}
    </Grid>
  );
}

/** Whether a command leads to API calls: a kubectl invocation, or a shell line with its session. */
export const drillable = (c: CommandEntry) =>
  c.source === 'kubectl' ? c.kubectlSession !== undefined : c.sessionId !== undefined;

export function CommandsTable({ items, onOpen }: { items: CommandEntry[]; onOpen(c: CommandEntry): void }) {
  return (
    <Grid
      head={['Time', 'User', 'Cluster', 'Channel', 'Source', 'Command', 'Server saw', 'Calls']}
      empty={items.length === 0}
    >
      {items.map((c, i) => (
        <Table.Tr
          key={`${c.kubectlSession ?? c.sessionId ?? ''}-${String(c.at)}-${i}`}
          data-testid="audit-row"
        >
          <Table.Td>
            <Time at={c.at} />
          </Table.Td>
          <Table.Td>{c.user ?? '—'}</Table.Td>
          <Table.Td>{c.cluster}</Table.Td>
          <Table.Td>{c.channel}</Table.Td>
          <Table.Td>
            <Badge variant="light" color={c.source === 'shell' ? 'grape' : 'blue'}>
              {c.source}
            </Badge>
          </Table.Td>
          <Table.Td style={{ wordBreak: 'break-all' }}>
            {drillable(c) ? (
              <Anchor
                component="button"
                type="button"
                onClick={() => onOpen(c)}
                title="Show the API calls it made"
                data-testid="audit-command-link"
              >
                <Code>{c.command || '(kubectl)'}</Code>
              </Anchor>
            ) : (
              <Code>{c.command}</Code>
            )}
            {c.refused !== undefined && (
              <Badge
                ml={6}
                size="xs"
                variant="light"
                color="red"
                title={`Refused by the shell's policy, never run: ${c.refused}`}
                data-testid="audit-refused"
              >
                refused
              </Badge>
            )}
            {c.clientReported && (
              <Badge
                ml={6}
                size="xs"
                variant="outline"
                color="orange"
                title="The client sent this text (kubectl's Kubectl-Command header); nothing checks it. What the requests did is under “Server saw”."
                data-testid="audit-client-reported"
              >
                client-reported
              </Badge>
            )}
          </Table.Td>
          <Table.Td style={{ wordBreak: 'break-word' }} data-testid="audit-operations">
            {(c.operations ?? []).join(', ')}
          </Table.Td>
          <Table.Td>{c.calls ?? ''}</Table.Td>
        </Table.Tr>
      ))}
    </Grid>
  );
}

export function SystemTable({ items, onOpen }: { items: SystemRecord[]; onOpen(r: SystemRecord): void }) {
  return (
    <Grid head={['Time', 'Event', 'User', 'Source IP', 'Detail']} empty={items.length === 0}>
      {items.map((r) => (
        <Table.Tr key={r.id} data-testid="audit-row" onClick={() => onOpen(r)} style={{ cursor: 'pointer' }}>
          <Table.Td>
            <Time at={r.at} />
          </Table.Td>
          <Table.Td>
            <Badge variant="light" color={r.event.includes('failed') ? 'orange' : 'gray'}>
              {r.event}
            </Badge>
          </Table.Td>
          <Table.Td>{r.user ?? '—'}</Table.Td>
          <Table.Td>{r.sourceIp ?? ''}</Table.Td>
          <Table.Td style={{ wordBreak: 'break-all' }}>
            <Code>{detailText(r.detail)}</Code>
          </Table.Td>
        </Table.Tr>
      ))}
    </Grid>
  );
}
