// Settings → Single sign-on: the OpenID Providers people log in with. Admins add, edit and remove them; the
// client secret is write-only, and the redirect URI to register at the provider is shown with each.
import {
  Badge,
  Button,
  Code,
  Group,
  Loader,
  Paper,
  PasswordInput,
  Stack,
  Switch,
  Table,
  Text,
  TextInput,
  Textarea,
  Title,
} from '@mantine/core';
import { useState } from 'react';
import type { SsoProviderView } from '@ztka/protocol/sso';
import { formatDuration, parseDuration } from '@ztka/protocol/duration';
import { ConfirmButton } from '../../components/ConfirmButton.js';
import { ErrorAlert } from '../../components/ErrorAlert.js';
import { FormModal } from '../../components/FormModal.js';
import { notifyDone } from '../../components/notify.js';
import { api, seg } from '../../lib/api.js';
import { useAuth } from '../../lib/auth.js';
import { useResource } from '../../lib/use-resource.js';

const words = (text: string) => text.split(/[\s,]+/).filter(Boolean);

/** `provider-group = ztka-group`, one per line. */
function parseMapping(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.lastIndexOf('=');
    if (line.trim() === '') continue;
    if (eq <= 0) throw new Error(`"${line.trim()}": write provider-group = ztka-group`);
    out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
}

export function SsoProviders() {
  const { caps } = useAuth();
  const providers = useResource(() => api.get<{ items: SsoProviderView[] }>('/v1/sso/providers'), []);
  const [editing, setEditing] = useState<SsoProviderView | 'new' | undefined>();
  if (!caps.orgReader) return null;
  return (
    <Paper withBorder p="md" maw={900} mt="lg">
      <Stack>
        <Group justify="space-between">
          <Title order={4}>Single sign-on</Title>
          {caps.orgAdmin && (
            <Button size="xs" onClick={() => setEditing('new')} data-testid="sso-add">
              Add provider
            </Button>
          )}
        </Group>
        <Text size="sm" c="dimmed">
          People log in with an OpenID Connect provider; its groups map to ztka groups (by name, or by the
          mapping below) and are checked again at every refresh.
        </Text>
        <ErrorAlert error={providers.error} />
        {providers.loading && <Loader size="sm" />}
        {providers.data && providers.data.items.length > 0 && (
          <Table verticalSpacing="xs">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Issuer</Table.Th>
                <Table.Th>Groups</Table.Th>
                <Table.Th>Max session</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {providers.data.items.map((p) => (
                <Table.Tr key={p.name} data-testid={`sso-row-${p.name}`}>
                  <Table.Td>
                    {p.displayName} <Badge variant="outline">{p.name}</Badge>
                  </Table.Td>
                  <Table.Td>
                    <Code>{p.issuer}</Code>
                  </Table.Td>
                  <Table.Td>
                    {p.groupsClaim}
                    {Object.keys(p.groupMapping).length > 0 &&
                      ` (${Object.keys(p.groupMapping).length} mapped)`}
                  </Table.Td>
                  <Table.Td>{formatDuration(p.maxSessionSeconds)}</Table.Td>
                  <Table.Td>
                    {caps.orgAdmin && (
                      <Group gap="xs" wrap="nowrap">
                        <Button size="xs" variant="light" onClick={() => setEditing(p)}>
                          Edit
                        </Button>
                        <ConfirmButton
                          label="Remove"
                          title={`Remove ${p.displayName}?`}
                          message="Everyone logged in through it is signed out at once."
                          onConfirm={async () => {
                            await api.del(`/v1/sso/providers/${seg(p.name)}`);
                            notifyDone(`${p.displayName} removed`);
                            providers.reload();
                          }}
                        />
                      </Group>
                    )}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
        {providers.data?.items[0] && (
          <Text size="sm">
            Redirect URI to register at the provider: <Code>{providers.data.items[0].redirectUri}</Code>
          </Text>
        )}
      </Stack>
      {editing !== undefined && (
        <ProviderForm
          current={editing === 'new' ? undefined : editing}
          onClose={() => setEditing(undefined)}
          onSaved={providers.reload}
        />
      )}
    </Paper>
  );
}

function ProviderForm(props: { current: SsoProviderView | undefined; onClose(): void; onSaved(): void }) {
  const c = props.current;
  const [name, setName] = useState(c?.name ?? '');
  const [displayName, setDisplayName] = useState(c?.displayName ?? '');
  const [issuer, setIssuer] = useState(c?.issuer ?? '');
  const [clientId, setClientId] = useState(c?.clientId ?? '');
  const [clientSecret, setClientSecret] = useState('');
  const [scopes, setScopes] = useState((c?.scopes ?? ['openid', 'email', 'profile']).join(' '));
  const [usernameClaim, setUsernameClaim] = useState(c?.usernameClaim ?? 'email');
  const [groupsClaim, setGroupsClaim] = useState(c?.groupsClaim ?? 'groups');
  const [domains, setDomains] = useState((c?.allowedDomains ?? []).join(', '));
  const [mapping, setMapping] = useState(
    Object.entries(c?.groupMapping ?? {})
      .map(([k, v]) => `${k} = ${v}`)
      .join('\n'),
  );
  const [byName, setByName] = useState(c?.groupsByName ?? false);
  const [deviceFlow, setDeviceFlow] = useState(c?.deviceFlow ?? false);
  const [maxSession, setMaxSession] = useState(formatDuration(c?.maxSessionSeconds ?? 12 * 3600));

  const submit = async () => {
    const seconds = parseDuration(maxSession);
    if (seconds === undefined) throw new Error('max session: a duration such as 8h or 12h');
    const body = {
      displayName: displayName.trim() || name,
      issuer: issuer.trim(),
      clientId: clientId.trim(),
      ...(clientSecret ? { clientSecret } : {}),
      scopes: words(scopes),
      usernameClaim: usernameClaim.trim(),
      groupsClaim: groupsClaim.trim(),
      allowedDomains: words(domains.toLowerCase()),
      groupMapping: parseMapping(mapping),
      groupsByName: byName,
      deviceFlow,
      maxSessionSeconds: seconds,
    };
    if (c) await api.patch(`/v1/sso/providers/${seg(c.name)}`, body);
    else await api.post('/v1/sso/providers', { name: name.trim(), ...body });
    notifyDone(`${body.displayName} saved`);
    props.onSaved();
  };

  return (
    <FormModal
      opened
      onClose={props.onClose}
      title={c ? `Edit ${c.displayName}` : 'Add a single sign-on provider'}
      submitLabel="Save"
      onSubmit={submit}
    >
      <TextInput
        label="Name"
        description="Lowercase letters, digits and '-'; used in URLs"
        value={name}
        onChange={(e) => setName(e.currentTarget.value)}
        disabled={c !== undefined}
        required
        data-testid="sso-name"
      />
      <TextInput
        label="Display name"
        description="On the login page: Log in with …"
        value={displayName}
        onChange={(e) => setDisplayName(e.currentTarget.value)}
        data-testid="sso-display-name"
      />
      <TextInput
        label="Issuer URL"
        value={issuer}
        onChange={(e) => setIssuer(e.currentTarget.value)}
        required
        data-testid="sso-issuer"
      />
      <TextInput
        label="Client ID"
        value={clientId}
        onChange={(e) => setClientId(e.currentTarget.value)}
        required
        data-testid="sso-client-id"
      />
      <PasswordInput
        label="Client secret"
        description={c ? 'Leave empty to keep the current one' : undefined}
        value={clientSecret}
        onChange={(e) => setClientSecret(e.currentTarget.value)}
        required={c === undefined}
        data-testid="sso-client-secret"
      />
      <TextInput label="Scopes" value={scopes} onChange={(e) => setScopes(e.currentTarget.value)} />
      <TextInput
        label="Username claim"
        value={usernameClaim}
        onChange={(e) => setUsernameClaim(e.currentTarget.value)}
      />
      <TextInput
        label="Groups claim"
        value={groupsClaim}
        onChange={(e) => setGroupsClaim(e.currentTarget.value)}
      />
      <TextInput
        label="Allowed email domains"
        description="Empty: any"
        value={domains}
        onChange={(e) => setDomains(e.currentTarget.value)}
      />
      <Textarea
        label="Group mapping"
        description="provider-group = ztka-group, one per line"
        value={mapping}
        onChange={(e) => setMapping(e.currentTarget.value)}
        autosize
        minRows={2}
      />
      <Switch
        label="Provider groups also grant the ztka group of the same name (never one with an org-wide role)"
        checked={byName}
        onChange={(e) => setByName(e.currentTarget.checked)}
      />
      <Switch
        label="Device flow for the CLI (a code entered on another device; can be phished)"
        checked={deviceFlow}
        onChange={(e) => setDeviceFlow(e.currentTarget.checked)}
      />
      <TextInput
        label="Maximum session"
        description="Every credential from a login ends by then (e.g. 12h)"
        value={maxSession}
        onChange={(e) => setMaxSession(e.currentTarget.value)}
      />
    </FormModal>
  );
}
