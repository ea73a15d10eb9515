import { join } from "node:path";

/** Directory that contains one state directory per lab. */
export const LAB_ROOT = "/var/lib/ovs-mesh/lab";

/** Lab name used when none is given. */
export const DEFAULT_LAB_NAME = "lab";

/** Prefix of every network namespace that any lab creates. */
export const NAMESPACE_PREFIX = "om-";

/** Last part of the switch namespace's name, `om-NAME-sw`. */
const SWITCH_SUFFIX = "sw";

/** Linux bridge in the switch namespace that joins the hosts' underlay links. */
export const SWITCH_BRIDGE = "underlay";

/** Underlay interface inside each host namespace; a port of {@link PHYSICAL_BRIDGE}. */
export const HOST_UNDERLAY_DEVICE = "eth0";

/** OVS bridge with the underlay interface as a port and the underlay IP on its internal port. */
export const PHYSICAL_BRIDGE = "br-phy";

/** Interface inside each container namespace. */
export const CONTAINER_DEVICE = "eth0";

/**
 * Lab names become part of namespace names and of unix socket paths, which Linux limits to
 * 107 bytes. With at most 20 characters, every socket path of a lab under {@link LAB_ROOT} fits.
 */
const LAB_NAME = /^[a-z0-9]([a-z0-9-]{0,18}[a-z0-9])?$/;

/** Host names also name the host's veth in the switch namespace, so they fit IFNAMSIZ. */
const HOST_NAME = /^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/;

/** Container names also name the host side of the container's veth, `veth-NAME`. */
const CONTAINER_NAME = /^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/;

/** Returns a problem when `name` cannot be a lab name. */
export function checkLabName(name: string): string | undefined {
  if (!LAB_NAME.test(name)) {
    return `invalid lab name ${JSON.stringify(name)}: use 1 to 20 lower-case letters, digits and "-", starting and ending with a letter or digit`;
  }
  return undefined;
}

/** Returns a problem when `name` cannot be the name of a lab host. */
export function checkLabHostName(name: string): string | undefined {
  if (!HOST_NAME.test(name)) {
    return `invalid host name ${JSON.stringify(name)}: use 1 to 15 lower-case letters, digits and "-", starting and ending with a letter or digit`;
  }
  if (name === SWITCH_SUFFIX) {
    return `invalid host name ${JSON.stringify(name)}: the lab's switch namespace ends in "-${SWITCH_SUFFIX}"; pick another name`;
  }
  return undefined;
}

/** Returns a problem when `name` cannot be the name of a lab container. */
export function checkContainerName(name: string): string | undefined {
  if (!CONTAINER_NAME.test(name)) {
    return `invalid container name ${JSON.stringify(name)}: use 1 to 10 lower-case letters, digits and "-", starting and ending with a letter or digit`;
  }
  return undefined;
}

/** Name of the n-th host of a lab, counting from 0: host0, host1, ... */
export function hostName(index: number): string {
  return `host${index}`;
}

/** Name of the n-th container of a host, counting from 0: c0, c1, ... */
export function containerName(index: number): string {
  return `c${index}`;
}

/** Prefix shared by every namespace of the lab: `om-NAME-`. */
export function labNamespacePrefix(lab: string): string {
  return `${NAMESPACE_PREFIX}${lab}-`;
}

/** Namespace of the lab's underlay switch. */
export function switchNamespace(lab: string): string {
  return `${labNamespacePrefix(lab)}${SWITCH_SUFFIX}`;
}

/** Namespace of one lab host. */
export function hostNamespace(lab: string, host: string): string {
  return `${labNamespacePrefix(lab)}${host}`;
}

/** Namespace of one container of a lab host. */
export function containerNamespace(lab: string, host: string, container: string): string {
  return `${hostNamespace(lab, host)}-${container}`;
}

/** Path of the file that `ip netns` bind-mounts for a named namespace. */
export function namespacePath(namespace: string): string {
  return `/run/netns/${namespace}`;
}

/** Host end of a container's veth, in the host namespace. */
export function containerVeth(container: string): string {
  return `veth-${container}`;
}

/** State directory of one lab. */
export function labDirectory(root: string, lab: string): string {
  return join(root, lab);
}

/** OVS run directory of one lab host: database, sockets, pidfiles and logs. */
export function hostRunDirectory(root: string, lab: string, host: string): string {
  return join(labDirectory(root, lab), host);
}

/** Unix socket of a lab host's ovsdb-server; `ovs-vsctl` finds it under OVS_RUNDIR. */
export const DB_SOCKET = "db.sock";

/** Database file of a lab host's ovsdb-server. */
export const DB_FILE = "conf.db";

/**
 * Returns whether a namespace belongs to lab `lab`. Its name must start with `om-LAB-` but
 * not with the prefix of another lab whose name extends this one, as "t-lab1" extends "t".
 */
export function belongsToLab(
  namespace: string,
  lab: string,
  otherLabs: readonly string[],
): boolean {
  if (!namespace.startsWith(labNamespacePrefix(lab))) {
    return false;
  }
  return !otherLabs.some(
    (other) =>
      other !== lab &&
      other.startsWith(`${lab}-`) &&
      namespace.startsWith(labNamespacePrefix(other)),
  );
}
