// The login page's single sign-on part: a button per provider (a full-page navigation to the controller,
// which sends the browser on to the provider) and the reason a sign-in that came back failed.
import { Alert, Button, Divider, Stack } from '@mantine/core';
import type { SsoProviderName } from '@ztka/protocol/sso';
import { api } from '../lib/api.js';
import { useResource } from '../lib/use-resource.js';

export function SsoLogin({ error }: { error: string | null }) {
  const providers = useResource(
    (signal) => api.get<{ items: SsoProviderName[] }>('/v1/auth/sso/providers', undefined, signal),
    [],
  );
  const items = providers.data?.items ?? [];
  return (
    <Stack gap="xs">
      {error && (
        <Alert color="red" variant="light" title="Single sign-on failed" data-testid="sso-error">
          {error}
        </Alert>
      )}
      {items.map((p) => (
        <Button
          key={p.name}
          component="a"
          variant="default"
          href={`/v1/auth/sso/${encodeURIComponent(p.name)}/start?client=console`}
          data-testid={`sso-login-${p.name}`}
        >
          Log in with {p.displayName}
        </Button>
      ))}
      {items.length > 0 && <Divider label="or with a local account" labelPosition="center" />}
    </Stack>
  );
}
