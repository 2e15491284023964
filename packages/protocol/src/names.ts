// The naming rule of projects, clusters, groups and namespaces: a DNS-1123 label, because each is addressed in
// URLs and in kube object names. One definition for the API's schemas, the controller, the agent and the
// console's forms.

/** The longest DNS-1123 label. */
export const DNS_LABEL_MAX = 63;

/** One DNS-1123 label, unanchored, for patterns that are built of labels (a domain name). */
export const DNS_LABEL_BODY = '[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?';

/** A DNS-1123 label as a JSON Schema `pattern`: lowercase letters, digits and '-', at most 63 of them. */
export const DNS_LABEL_PATTERN = `^${DNS_LABEL_BODY}$`;

const DNS_LABEL = new RegExp(DNS_LABEL_PATTERN);

export function isDnsLabel(name: string): boolean {
  return DNS_LABEL.test(name);
}
