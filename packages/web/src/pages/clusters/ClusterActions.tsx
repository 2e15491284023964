import { Button } from '@mantine/core';
import { useState } from 'react';
import { ConfirmButton } from '../../components/ConfirmButton.js';
import { notifyDone, notifyError } from '../../components/notify.js';
import { api, seg } from '../../lib/api.js';
import { saveText } from '../../lib/download.js';

/** POST /v1/kubeconfig for one cluster, saved as `<cluster>.kubeconfig`. */
export function DownloadKubeconfigButton({ cluster }: { cluster: string }) {
  const [busy, setBusy] = useState(false);
  const download = async () => {
    setBusy(true);
    try {
      const yaml = await api.text('/v1/kubeconfig', { method: 'POST', body: { cluster } });
      saveText(`${cluster}.kubeconfig`, yaml);
    } catch (err) {
      notifyError(err, 'Kubeconfig download failed');
    } finally {
      setBusy(false);
    }
  };
  return (
    <Button
      size="xs"
      variant="light"
      loading={busy}
      onClick={() => void download()}
      data-testid={`kubeconfig-${cluster}`}
    >
      Download kubeconfig
    </Button>
  );
}

export function DeleteClusterButton({ cluster, onDeleted }: { cluster: string; onDeleted(): void }) {
  return (
    <ConfirmButton
      label="Delete"
      title={`Delete cluster ${cluster}?`}
      message="Its agent is disconnected and its credential revoked. The cluster itself is not touched."
      data-testid={`delete-${cluster}`}
      onConfirm={async () => {
        await api.del(`/v1/clusters/${seg(cluster)}`);
        notifyDone(`Cluster ${cluster} deleted`);
        onDeleted();
      }}
    />
  );
}
