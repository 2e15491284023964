// Pod Security labels on the namespaces a NAMESPACE_ADMIN is granted, when the org requires a level. The
// `admin` ClusterRole lets a person create any pod in their namespace, privileged ones included; only the
// kube-apiserver's PodSecurity admission, driven by the namespace's `pod-security.kubernetes.io/*` labels,
// refuses them. The agent raises those labels to the org's level before it binds the person there, and
// never lowers one: a label at the level or stricter, set by anyone, stays as it is.
import { ZtkaError, type JitBinding, type PodSecurityLevel } from '@ztka/protocol';

const PREFIX = 'pod-security.kubernetes.io/';
/**
 * `enforce` refuses pods; `warn` makes the apiserver warn whoever applies a workload (a Deployment) whose
 * pods `enforce` will refuse, who would otherwise only see its ReplicaSet fail; `audit` marks such
 * requests in the cluster's audit log.
 */
const MODES = ['enforce', 'warn', 'audit'] as const;
/** Set beside the labels ztka raised, to the level it required: `kubectl get ns -l ztka.dev/pod-security`. */
export const POD_SECURITY_MARKER = 'ztka.dev/pod-security';
/**
 * The marker's value with which a cluster admin keeps ztka from labelling a namespace whose own pods need
 * privileges (kube-system, a CNI's). Only whoever may patch namespaces can set it, never a namespace role.
 */
export const POD_SECURITY_EXEMPT = 'exempt';

const RANK: Readonly<Record<string, number>> = { privileged: 0, baseline: 1, restricted: 2 };

/** Whether PodSecurity admission already applies `level` or stricter for this mode of the namespace. */
function atLeast(mode: (typeof MODES)[number], value: string | undefined, level: PodSecurityLevel): boolean {
  if (value === undefined) return false;
  const rank = RANK[value];
  // The apiserver reads an invalid enforce level as `restricted` (the strictest) and an invalid warn or
  // audit level as `privileged`: replacing the former would lower it, replacing the latter raises it.
  if (rank === undefined) return mode === 'enforce';
  return rank >= (RANK[level] ?? Infinity);
}

/**
 * The labels to add to a namespace labelled `existing` so that every mode is at least `level`, or
 * undefined when it already is or a cluster admin exempted it. A mode that is raised gets version `latest`
 * too; a mode at the level or stricter is left alone, version included. Nothing is ever removed.
 */
export function podSecurityLabels(
  existing: Readonly<Record<string, string>> | undefined,
  level: PodSecurityLevel,
): Record<string, string> | undefined {
  if (existing?.[POD_SECURITY_MARKER] === POD_SECURITY_EXEMPT) return undefined;
  const labels: Record<string, string> = {};
  for (const mode of MODES) {
    if (atLeast(mode, existing?.[`${PREFIX}${mode}`], level)) continue;
    labels[`${PREFIX}${mode}`] = level;
    labels[`${PREFIX}${mode}-version`] = 'latest';
  }
  if (Object.keys(labels).length === 0) return undefined;
  labels[POD_SECURITY_MARKER] = level;
  return labels;
}

/** The namespaces where a person's bindings let them create pods: those bound to `admin`. */
export function podCreatingNamespaces(bindings: readonly JitBinding[]): string[] {
  return bindings.flatMap((b) =>
    b.namespace !== undefined && b.clusterRole === 'admin' ? [b.namespace] : [],
  );
}

type Call = (method: string, uri: string, body?: object) => Promise<{ status: number; text: string }>;

/**
 * Reads and patches before giving up when the namespace keeps changing in between (409), as when another
 * agent or a cluster admin labels it at the same moment.
 */
const ATTEMPTS = 3;

function statusMessage(text: string): string {
  try {
    const message = (JSON.parse(text) as { message?: unknown }).message;
    if (typeof message === 'string') return message.slice(0, 300);
  } catch {
    // not a Status: the text itself says what there is
  }
  return text.slice(0, 300);
}

function notLabelled(namespace: string, level: PodSecurityLevel, why: string): ZtkaError {
  return new ZtkaError(
    'forbidden',
    `Forbidden: this org requires Pod Security "${level}" in the namespaces it grants, and the ztka agent ` +
      `could not label the namespace "${namespace}": ${why}. The request was refused rather than granted ` +
      `without it`,
  );
}

function refusal(namespace: string, level: PodSecurityLevel, res: { status: number; text: string }) {
  const message = statusMessage(res.text);
  // The agent's own RBAC said no: its cluster was set up with a manifest from before this setting.
  const hint = /is forbidden: User/.test(message)
    ? " (the agent needs get and patch on namespaces: apply this cluster's current bootstrap manifest)"
    : '';
  return notLabelled(namespace, level, `${res.status} ${message}${hint}`);
}

async function labelOne(call: Call, namespace: string, level: PodSecurityLevel): Promise<void> {
  const uri = `/api/v1/namespaces/${encodeURIComponent(namespace)}`;
  for (let attempt = 1; ; attempt++) {
    const got = await call('GET', uri);
    if (got.status !== 200) throw refusal(namespace, level, got);
    const meta = (
      JSON.parse(got.text) as { metadata?: { resourceVersion?: string; labels?: Record<string, string> } }
    ).metadata;
    const labels = podSecurityLabels(meta?.labels, level);
    if (!labels) return;
    // Only onto the labels just read: if they changed meanwhile, the apiserver answers 409 and they are
    // read again, so a stricter label set in between is never overwritten.
    const patched = await call('PATCH', uri, {
      metadata: { resourceVersion: meta?.resourceVersion, labels },
    });
    if (patched.status === 200) return;
    if (patched.status !== 409 || attempt >= ATTEMPTS) throw refusal(namespace, level, patched);
  }
}

/**
 * Labels each namespace to at least `level`, or throws a `Forbidden` ZtkaError that names the namespace
 * and why: the caller then makes no binding, so the grant fails closed rather than going ahead unlabelled.
 */
export async function labelNamespaces(
  call: Call,
  namespaces: readonly string[],
  level: PodSecurityLevel,
): Promise<void> {
  await Promise.all(
    namespaces.map((ns) =>
      labelOne(call, ns, level).catch((err: unknown) => {
        throw err instanceof ZtkaError
          ? err
          : notLabelled(ns, level, err instanceof Error ? err.message : String(err));
      }),
    ),
  );
}
