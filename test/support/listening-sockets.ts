/**
 * What a process tree listens on, read from /proc as `ss -ltunp` would: the
 * sockets each process holds (/proc/PID/fd → socket:[INODE]) matched against
 * the kernel's socket tables (/proc/net/{tcp,tcp6,udp,udp6}).
 */
import {readFileSync, readdirSync, readlinkSync} from 'node:fs';

export interface ListeningSocket {
  readonly protocol: 'tcp' | 'tcp6' | 'udp' | 'udp6';
  readonly address: string;
  readonly port: number;
  readonly pid: number;
  /** The process's command line, for a readable failure. */
  readonly command: string;
}

const TABLES = ['tcp', 'tcp6', 'udp', 'udp6'] as const;
/** TCP_LISTEN in the kernel's `st` column; UDP sockets are 07 (TCP_CLOSE) while unconnected. */
const TCP_LISTEN = '0A';

/** `rootPid` and every process descended from it, whatever its process group. */
export function processTree(rootPid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    // "pid (comm) state ppid ...": comm may hold spaces, so parse after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const tree: number[] = [];
  const pending = [rootPid];
  while (pending.length > 0) {
    const pid = pending.pop() as number;
    tree.push(pid);
    pending.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/** Every TCP socket listening and every UDP socket bound but unconnected, held by these processes. */
export function listeningSockets(pids: readonly number[]): ListeningSocket[] {
  const owners = new Map<string, number>();
  for (const pid of pids) {
    for (const inode of socketInodes(pid)) owners.set(inode, pid);
  }
  const found: ListeningSocket[] = [];
  for (const protocol of TABLES) {
    const rows = readFileSync(`/proc/net/${protocol}`, 'utf8')
      .split('\n')
      .slice(1)
      .filter(row => row.trim() !== '');
    for (const row of rows) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      const [, local, remote, state, , , , , , inode] = row.trim().split(/\s+/);
      const pid = owners.get(inode);
      if (pid === undefined) continue;
      const listening = protocol.startsWith('tcp')
        ? state === TCP_LISTEN
        : /^0+:0000$/.test(remote);
      if (!listening) continue;
      const [hexAddress, hexPort] = local.split(':');
      found.push({
        protocol,
        address: decodeAddress(hexAddress),
        port: parseInt(hexPort, 16),
        pid,
        command: commandOf(pid),
      });
    }
  }
  return found;
}

export function isLoopback(address: string): boolean {
  return (
    /^127\./.test(address) || address === '::1' || /^::ffff:127\./.test(address)
  );
}

function socketInodes(pid: number): string[] {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return []; // exited, or not ours to read
  }
  return fds.flatMap(fd => {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(
        readlinkSync(`/proc/${pid}/fd/${fd}`),
      );
      return match === null ? [] : [match[1]];
    } catch {
      return [];
    }
  });
}

/**
 * The kernel prints addresses as 32-bit words in host (little-endian) order:
 * 0100007F is 127.0.0.1; an IPv6 address is four such words.
 */
function decodeAddress(hex: string): string {
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = words.flatMap(word =>
    (word.match(/../g) ?? []).reverse().map(b => parseInt(b, 16)),
  );
  if (bytes.length === 4) return bytes.join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) {
    groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  }
  if (groups.slice(0, 5).every(g => g === '0') && groups[5] === 'ffff') {
    return `::ffff:${bytes.slice(12).join('.')}`;
  }
  return compressIpv6(groups);
}

/** The longest run of zero groups becomes `::`, as addresses are written. */
function compressIpv6(groups: readonly string[]): string {
  let best = {start: -1, length: 0};
  for (let i = 0; i < groups.length;) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === '0') j++;
    if (j - i > best.length) best = {start: i, length: j - i};
    i = j;
  }
  if (best.length < 2) return groups.join(':');
  const head = groups.slice(0, best.start).join(':');
  const tail = groups.slice(best.start + best.length).join(':');
  return `${head}::${tail}`;
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      .replace(/\0/g, ' ')
      .trim()
      .slice(0, 200);
  } catch {
    return '?';
  }
}
