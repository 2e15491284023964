// System → Settings: kubeconfig validity, JIT service account lifetime, the kubectl channels, the Pod
// Security level of granted namespaces, and how people log in with a password (TOTP required, single
// sign-on only with a break-glass admin). Everyone reads them; only ADMIN changes them.
import { Alert, Button, Group, Loader, Paper, Select, Stack, Switch, TextInput } from '@mantine/core';
import { useEffect, useState } from 'react';
import {
  NAMESPACE_POD_SECURITY,
  isNamespacePodSecurity,
  type NamespacePodSecurity,
} from '@ztka/protocol/pod-security';
import { formatDuration, parseDuration } from '@ztka/protocol/duration';
import { ErrorAlert } from '../components/ErrorAlert.js';
import { PageHeader } from '../components/PageHeader.js';
import { notifyDone } from '../components/notify.js';
import { api } from '../lib/api.js';
import { useAuth } from '../lib/auth.js';
import type { Settings } from '../lib/types.js';
import { useResource } from '../lib/use-resource.js';
import { SsoProviders } from './settings/SsoProviders.js';

const BOUNDS = {
  kubeconfigValiditySeconds: { min: 600, max: 365 * 86_400 },
  saLifetimeSeconds: { min: 10, max: 30 * 86_400 },
} as const;

function durationProblem(text: string, key: keyof typeof BOUNDS): string | undefined {
  const seconds = parseDuration(text);
  if (seconds === undefined) return 'a duration such as 30m, 8h or 30d';
  const { min, max } = BOUNDS[key];
  if (seconds < min || seconds > max) return `between ${formatDuration(min)} and ${formatDuration(max)}`;
  return undefined;
}

export function SettingsPage() {
  const { caps } = useAuth();
  const settings = useResource(() => api.get<Settings>('/v1/settings'), []);
  const [kubeconfig, setKubeconfig] = useState('');
  const [sa, setSa] = useState('');
  const [webKubectl, setWebKubectl] = useState(true);
  const [cliKubectl, setCliKubectl] = useState(true);
  const [podSecurity, setPodSecurity] = useState<NamespacePodSecurity>('off');
  const [requireTotp, setRequireTotp] = useState(false);
  const [ssoOnly, setSsoOnly] = useState(false);
  const [breakGlassUser, setBreakGlassUser] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();

  const loaded = settings.data;
  useEffect(() => {
    if (!loaded) return;
    setKubeconfig(formatDuration(loaded.kubeconfigValiditySeconds));
    setSa(formatDuration(loaded.saLifetimeSeconds));
    setWebKubectl(loaded.webKubectl);
    setCliKubectl(loaded.cliKubectl);
    setPodSecurity(loaded.namespacePodSecurity);
    setRequireTotp(loaded.requireTotp);
    setSsoOnly(loaded.ssoOnly);
    setBreakGlassUser(loaded.breakGlassUser);
  }, [loaded]);

  if (settings.error !== undefined && !loaded) return <ErrorAlert error={settings.error} />;
  if (!loaded) return <Loader />;

  const readOnly = !caps.orgAdmin;
  const kubeconfigProblem = durationProblem(kubeconfig, 'kubeconfigValiditySeconds');
  const saProblem = durationProblem(sa, 'saLifetimeSeconds');
  const patch: Partial<Settings> = {};
  const kcSeconds = parseDuration(kubeconfig);
  const saSeconds = parseDuration(sa);
  if (kcSeconds !== undefined && kcSeconds !== loaded.kubeconfigValiditySeconds)
    patch.kubeconfigValiditySeconds = kcSeconds;
  if (saSeconds !== undefined && saSeconds !== loaded.saLifetimeSeconds) patch.saLifetimeSeconds = saSeconds;
  if (webKubectl !== loaded.webKubectl) patch.webKubectl = webKubectl;
  if (cliKubectl !== loaded.cliKubectl) patch.cliKubectl = cliKubectl;
  if (podSecurity !== loaded.namespacePodSecurity) patch.namespacePodSecurity = podSecurity;
  if (requireTotp !== loaded.requireTotp) patch.requireTotp = requireTotp;
  if (ssoOnly !== loaded.ssoOnly) patch.ssoOnly = ssoOnly;
  if (breakGlassUser.trim() !== loaded.breakGlassUser) patch.breakGlassUser = breakGlassUser.trim();
  const dirty = Object.keys(patch).length > 0;

  const save = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await api.patch<Settings>('/v1/settings', patch);
      notifyDone('Settings saved');
      settings.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <PageHeader title="Settings" subtitle="For the whole organization" />
      {readOnly && (
        <Alert color="gray" mb="md">
          Only an org administrator can change these settings.
        </Alert>
      )}
      <Paper withBorder p="md" maw={560}>
        <Stack>
          <TextInput
            label="Kubeconfig validity"
            description="How long a downloaded kubeconfig's credential works (e.g. 8h, 30d)."
            value={kubeconfig}
            onChange={(e) => setKubeconfig(e.currentTarget.value)}
            error={readOnly ? undefined : kubeconfigProblem}
            readOnly={readOnly}
            data-testid="settings-kubeconfig-validity"
          />
          <TextInput
            label="JIT service account lifetime"
            description="How long an idle just-in-time service account stays in a cluster (e.g. 8h)."
            value={sa}
            onChange={(e) => setSa(e.currentTarget.value)}
            error={readOnly ? undefined : saProblem}
            readOnly={readOnly}
            data-testid="settings-sa-lifetime"
          />
          <Switch
            label="Web kubectl (the browser shell)"
            checked={webKubectl}
            onChange={(e) => setWebKubectl(e.currentTarget.checked)}
            disabled={readOnly}
            data-testid="settings-web-kubectl"
          />
          <Switch
            label="CLI kubectl (kubeconfigs and tokens)"
            checked={cliKubectl}
            onChange={(e) => setCliKubectl(e.currentTarget.checked)}
            disabled={readOnly}
            data-testid="settings-cli-kubectl"
          />
          <Select
            label="Pod Security of granted namespaces"
            description={
              'Label each namespace a NAMESPACE_ADMIN is granted with this Pod Security Standards level ' +
              '(pod-security.kubernetes.io/enforce), so the cluster refuses privileged pods there. ' +
              'Off: namespaces are left as they are, and a NAMESPACE_ADMIN can run privileged pods in ' +
              'one without such labels.'
            }
            data={[...NAMESPACE_POD_SECURITY]}
            value={podSecurity}
            onChange={(v) => {
              if (isNamespacePodSecurity(v)) setPodSecurity(v);
            }}
            allowDeselect={false}
            disabled={readOnly}
            data-testid="settings-namespace-pod-security"
          />
          <Switch
            label="Require two-factor authentication (TOTP)"
            description={
              'Every password login must also give a code from an authenticator app. Someone who has not ' +
              'set one up yet is asked to when they next sign in, and gets in only after that.'
            }
            checked={requireTotp}
            onChange={(e) => setRequireTotp(e.currentTarget.checked)}
            disabled={readOnly}
            data-testid="settings-require-totp"
          />
          <TextInput
            label="Break-glass user"
            description={
              'The one person who may still sign in with a password when single sign-on only is on: an org ' +
              'ADMIN in their own name (not through a group) who has a password.'
            }
            placeholder="none"
            value={breakGlassUser}
            onChange={(e) => setBreakGlassUser(e.currentTarget.value)}
            readOnly={readOnly}
            data-testid="settings-break-glass-user"
          />
          <Switch
            label="Single sign-on only"
            description={
              'Refuse password logins, but for the break-glass user. Turning this on ends every session, ' +
              'API key and kubeconfig of everyone else who has a password, at once.'
            }
            checked={ssoOnly}
            onChange={(e) => setSsoOnly(e.currentTarget.checked)}
            disabled={readOnly}
            data-testid="settings-sso-only"
          />
          <ErrorAlert error={error} />
          {!readOnly && (
            <Group justify="flex-end">
              <Button
                onClick={() => void save()}
                loading={busy}
                disabled={!dirty || kubeconfigProblem !== undefined || saProblem !== undefined}
                data-testid="settings-save"
              >
                Save
              </Button>
            </Group>
          )}
        </Stack>
      </Paper>
      <SsoProviders />
    </>
  );
}
