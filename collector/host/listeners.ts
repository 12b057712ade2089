/**
 * Accept queues of the groups' listening TCP sockets: depth from /proc/net/tcp{,6} (rx_queue of
 * LISTEN rows), owner from the members' `socket:[inode]` descriptors, limit (backlog) from `ss`.
 */
import { spawn } from 'node:child_process';
import type { OwnMetric } from '../../core/store.js';
import * as proc from './procfs.js';
import type { Member, GroupTotals } from './member.js';

/** What the listener reader needs of a group: its label values. */
export interface Labelled extends GroupTotals {
  readonly labels: readonly [string, string];
}

export class Listeners {
  /** Backlog limit by listening socket inode (from `ss`). */
  private backlog = new Map<string, number>();
  private ssRunning = false;
  /** The tick `ss` last ran in; and whether it is not installed (then no limits, no retries). */
  private ssTick = -1000;
  private ssMissing = false;
  private listenInodes = new Set<string>();

  constructor(
    private readonly queue: OwnMetric,
    private readonly limit: OwnMetric,
    private readonly onError: (reader: string) => void,
  ) {}

  /** Accept-queue depth of the members' listening sockets, and their limits (refreshed via `ss`). */
  read<G extends Labelled>(sockets: proc.ListenSocket[], members: Iterable<Member<G>>, tick: number): void {
    const byInode = new Map(sockets.map((s) => [s.inode, s]));
    // Which process owns which listening socket changes only when a listener opens or closes
    // (its inode appears in or leaves /proc/net/tcp) or a process joins: the fd links of every
    // member are read again only then (and every 30th tick, for sockets handed over between
    // processes), those of a new member once.
    let changed = byInode.size !== this.listenInodes.size || tick % 30 === 0;
    if (!changed) for (const inode of byInode.keys()) if (!this.listenInodes.has(inode)) changed = true;
    this.listenInodes = new Set(byInode.keys());
    // Per group and port, the distinct sockets: one shared by forked workers counts once;
    // SO_REUSEPORT siblings and the IPv4 and IPv6 sockets of one port add up.
    const perGroup = new Map<G, Map<number, Set<string>>>();
    for (const m of members) {
      if (changed || !m.socketsScanned) {
        m.listenInodes.clear();
        for (const fd of proc.listFds(m.pid) ?? []) {
          const link = proc.readLink(`${m.pid}/fd/${fd}`);
          if (link !== null && link.startsWith('socket:[')) {
            const inode = link.slice(8, -1);
            if (byInode.has(inode)) m.listenInodes.add(inode);
          }
        }
        m.socketsScanned = true;
      }
      for (const inode of m.listenInodes) {
        const s = byInode.get(inode);
        if (s === undefined) continue;
        let ports = perGroup.get(m.group);
        if (!ports) perGroup.set(m.group, (ports = new Map()));
        let inodes = ports.get(s.port);
        if (!inodes) ports.set(s.port, (inodes = new Set()));
        inodes.add(inode);
      }
    }
    this.queue.reset();
    this.limit.reset();
    let any = false;
    let missingLimit = false;
    for (const [g, ports] of perGroup) {
      for (const [port, inodes] of ports) {
        any = true;
        let queue = 0;
        let limit = 0;
        let limitKnown = true;
        for (const inode of inodes) {
          queue += byInode.get(inode)!.queue;
          const l = this.backlog.get(inode);
          if (l === undefined) limitKnown = false;
          else limit += l;
        }
        const L = [...g.labels, String(port)];
        this.queue.set(L, queue);
        if (limitKnown) this.limit.set(L, limit);
        else missingLimit = true;
      }
    }
    // Backlog limits come from `ss` (netlink: /proc/net/tcp shows 0 for a listener's tx_queue);
    // asked again for a new socket, and every 30th tick.
    const due = tick - this.ssTick >= (missingLimit ? 2 : 30);
    if (any && due && !this.ssMissing) {
      this.ssTick = tick;
      this.refreshBacklog();
    }
  }

  /** `ss -ltnHe` reports each listener's backlog (Send-Q) and inode; spawned asynchronously, never on the tick. */
  private refreshBacklog(): void {
    if (this.ssRunning) return;
    this.ssRunning = true;
    let out = '';
    let child;
    try {
      child = spawn('ss', ['-ltnHe'], { stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      this.ssRunning = false;
      return;
    }
    child.stdout.on('data', (d: Buffer) => (out += d.toString('latin1')));
    child.on('error', (err: NodeJS.ErrnoException) => {
      this.ssRunning = false;
      if (err.code === 'ENOENT') this.ssMissing = true;
      this.onError('ss');
    });
    child.on('close', () => {
      this.ssRunning = false;
      this.backlog = parseSs(out);
    });
  }
}

/** Backlog limit by socket inode from `ss -ltnHe` lines ("LISTEN 0 511 127.0.0.1:8080 0.0.0.0:* ... ino:1234 ..."). */
export function parseSs(out: string): Map<string, number> {
  const next = new Map<string, number>();
  for (const line of out.split('\n')) {
    const f = line.trim().split(/\s+/);
    const ino = f.find((x) => x.startsWith('ino:'));
    const limit = Number(f[2]);
    if (ino !== undefined && Number.isInteger(limit)) next.set(ino.slice(4), limit);
  }
  return next;
}
