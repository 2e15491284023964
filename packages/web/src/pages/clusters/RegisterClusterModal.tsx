// Register cluster: a name, then the agent manifest (with its single-use bootstrap token) to apply.
import { Button, Group, Modal, Stack, Text, TextInput } from '@mantine/core';
import { useState, type FormEvent } from 'react';
import { DNS_LABEL_MAX, isDnsLabel } from '@ztka/protocol/names';
import { CodeBlock, CopyLine } from '../../components/CodeBlock.js';
import { ErrorAlert } from '../../components/ErrorAlert.js';
import { api, seg } from '../../lib/api.js';
import type { CreatedCluster } from '../../lib/types.js';

export function nameProblem(name: string): string | undefined {
  if (!name) return undefined;
  if (name.length > DNS_LABEL_MAX) return `at most ${DNS_LABEL_MAX} characters`;
  if (!isDnsLabel(name)) return 'lowercase letters, digits and -, starting and ending with a letter or digit';
  return undefined;
}

interface Props {
  project: string;
  opened: boolean;
  onClose(): void;
  onRegistered(): void;
}

export function RegisterClusterModal({ project, opened, onClose, onRegistered }: Props) {
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [manifest, setManifest] = useState<{ name: string; yaml: string } | undefined>();

  const close = () => {
    setName('');
    setError(undefined);
    setManifest(undefined);
    onClose();
  };
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await api.post<CreatedCluster>('/v1/clusters', { name, project });
      onRegistered();
      const yaml = await api.text(`/v1/clusters/${seg(name)}/bootstrap.yaml`);
      setManifest({ name, yaml });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const problem = nameProblem(name);
  return (
    <Modal opened={opened} onClose={close} title="Register cluster" size={manifest ? 'xl' : 'md'} centered>
      {!manifest ? (
        <form onSubmit={(e) => void submit(e)}>
          <Stack>
            <Text size="sm">
              The cluster joins project <b>{project}</b>. Its agent dials out to this controller, so the
              cluster may sit behind NAT or a firewall.
            </Text>
            <TextInput
              label="Cluster name"
              placeholder="my-cluster"
              required
              autoFocus
              value={name}
              error={problem}
              onChange={(e) => setName(e.currentTarget.value)}
              data-testid="register-cluster-name"
            />
            <ErrorAlert error={error} />
            <Group justify="flex-end">
              <Button variant="default" onClick={close}>
                Cancel
              </Button>
              <Button
                type="submit"
                loading={busy}
                disabled={!name || problem !== undefined}
                data-testid="register-cluster-submit"
              >
                Register
              </Button>
            </Group>
          </Stack>
        </form>
      ) : (
        <Stack>
          <Text size="sm">
            Cluster <b>{manifest.name}</b> is registered. Apply this manifest in the cluster to install its
            agent. Its bootstrap token works once and expires.
          </Text>
          <CodeBlock
            text={manifest.yaml}
            filename={`ztka-${manifest.name}.yaml`}
            data-testid="bootstrap-yaml"
          />
          <Text size="sm" fw={500}>
            Then run, with the cluster's own kubeconfig:
          </Text>
          <CopyLine text={`kubectl apply -f ztka-${manifest.name}.yaml`} />
          <Group justify="flex-end">
            <Button onClick={close}>Done</Button>
          </Group>
        </Stack>
      )}
    </Modal>
  );
}
