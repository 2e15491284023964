// The org setting that has the agent label each namespace a NAMESPACE_ADMIN is granted with a Pod Security
// Standards level (`pod-security.kubernetes.io/enforce`), so that the kube-apiserver's PodSecurity admission
// refuses privileged pods there. One definition for the controller (the setting), the agent (which labels),
// the CLI and the console (which show and change it). No Node API here: the console imports this module as
// `@ztka/protocol/pod-security`.

/** The Pod Security Standards levels ztka can require, weakest first (`privileged` requires nothing). */
export const POD_SECURITY_LEVELS = ['baseline', 'restricted'] as const;
export type PodSecurityLevel = (typeof POD_SECURITY_LEVELS)[number];

/** The org setting's values: `off` (the default) labels nothing, as before the setting existed. */
export const NAMESPACE_POD_SECURITY = ['off', ...POD_SECURITY_LEVELS] as const;
export type NamespacePodSecurity = (typeof NAMESPACE_POD_SECURITY)[number];

export function isNamespacePodSecurity(value: unknown): value is NamespacePodSecurity {
  return typeof value === 'string' && (NAMESPACE_POD_SECURITY as readonly string[]).includes(value);
}

export function isPodSecurityLevel(value: unknown): value is PodSecurityLevel {
  return typeof value === 'string' && (POD_SECURITY_LEVELS as readonly string[]).includes(value);
}
