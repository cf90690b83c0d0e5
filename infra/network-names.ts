/** Docker network names; every container of a region joins its datacenter network, POPs also the backbone. */
export function backboneNetworkName(project: string): string {
  return `${project}-backbone`;
}

export function datacenterNetworkName(project: string, region: string): string {
  return `${project}-dc-${region}`;
}
