/** Labels on every Docker object the deploy creates; destroy and the tests find leftovers by them. */
export const LABEL_PROJECT = "io.edgerim.project";
export const LABEL_REGION = "io.edgerim.region";
export const LABEL_RIM = "io.edgerim.rim";
export const LABEL_ROLE = "io.edgerim.role";

export type Rim = "outer" | "inner" | "backbone";
export type Role = "pop" | "ingress" | "app" | "discovery" | "network";

export function objectLabels(project: string, rim: Rim, role: Role, region?: string): { label: string; value: string }[] {
  const labels = [
    { label: LABEL_PROJECT, value: project },
    { label: LABEL_RIM, value: rim },
    { label: LABEL_ROLE, value: role },
  ];
  if (region !== undefined) labels.push({ label: LABEL_REGION, value: region });
  return labels;
}
