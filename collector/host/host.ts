/**
 * Host-wide metrics: CPU by mode, cores, load, memory, pressure stall information and TCP
 * back-pressure (listen overflows and drops, backlog drops, sockets in use, TIME_WAIT).
 */
import type { Store, OwnMetric } from '../../core/store.js';
import { readText, CLOCK_TICKS } from './procfs.js';
import * as F from './families.js';

const CPU_MODES = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;
const MEMINFO: [string, string][] = [
  ['MemTotal', 'total'],
  ['MemFree', 'free'],
  ['MemAvailable', 'available'],
  ['Buffers', 'buffers'],
  ['Cached', 'cached'],
  ['SwapTotal', 'swap_total'],
  ['SwapFree', 'swap_free'],
];
const NETSTAT: [string, F.FamilySpec][] = [
  ['ListenOverflows', F.HOST_LISTEN_OVERFLOWS],
  ['ListenDrops', F.HOST_LISTEN_DROPS],
  ['TCPBacklogDrop', F.HOST_BACKLOG_DROPS],
  ['TCPRcvQDrop', F.HOST_RCVQ_DROPS],
];

export class HostMetrics {
  private readonly cpu: OwnMetric;
  private readonly cpus: OwnMetric;
  private readonly load: OwnMetric[];
  private readonly memory: OwnMetric;
  private readonly pressure: OwnMetric;
  private readonly netstat: OwnMetric[];
  private readonly sockets: OwnMetric;

  constructor(
    store: Store,
    private readonly onError: (reader: string) => void,
  ) {
    this.cpu = F.declare(store, F.HOST_CPU);
    this.cpus = F.declare(store, F.HOST_CPUS);
    this.load = [F.HOST_LOAD1, F.HOST_LOAD5, F.HOST_LOAD15].map((f) => F.declare(store, f));
    this.memory = F.declare(store, F.HOST_MEMORY);
    this.pressure = F.declare(store, F.HOST_PRESSURE);
    this.netstat = NETSTAT.map(([, f]) => F.declare(store, f));
    this.sockets = F.declare(store, F.HOST_TCP_SOCKETS);
  }

  read(): void {
    this.readStat();
    this.readLoad();
    this.readMeminfo();
    this.readPressure();
    this.readNetstat();
    this.readSockstat();
  }

  private readStat(): void {
    const s = readText('stat');
    if (s === null) return this.onError('host_stat');
    let cpus = 0;
    for (const line of s.split('\n')) {
      if (line.startsWith('cpu ')) {
        const f = line.trim().split(/\s+/).slice(1).map(Number);
        CPU_MODES.forEach((mode, i) => this.cpu.set([mode], (f[i] ?? 0) / CLOCK_TICKS));
      } else if (line.startsWith('cpu')) cpus++;
    }
    this.cpus.set([], cpus);
  }

  private readLoad(): void {
    const s = readText('loadavg');
    if (s === null) return this.onError('host_loadavg');
    const f = s.split(' ');
    this.load.forEach((g, i) => g.set([], Number(f[i])));
  }

  private readMeminfo(): void {
    const s = readText('meminfo');
    if (s === null) return this.onError('host_meminfo');
    for (const [field, type] of MEMINFO) {
      const m = new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(s);
      if (m) this.memory.set([type], Number(m[1]) * 1024);
    }
  }

  private readPressure(): void {
    for (const resource of ['cpu', 'memory', 'io']) {
      const s = readText(`pressure/${resource}`);
      if (s === null) continue; // kernels without PSI: the series are absent
      for (const line of s.split('\n')) {
        const m = /^(some|full) .*total=(\d+)/.exec(line);
        if (m) this.pressure.set([resource, m[1]!], Number(m[2]) / 1e6);
      }
    }
  }

  private readNetstat(): void {
    const s = readText('net/netstat');
    if (s === null) return this.onError('host_netstat');
    const lines = s.split('\n');
    for (let i = 0; i + 1 < lines.length; i++) {
      if (!lines[i]!.startsWith('TcpExt:') || !lines[i + 1]!.startsWith('TcpExt:')) continue;
      const names = lines[i]!.split(' ');
      const values = lines[i + 1]!.split(' ');
      NETSTAT.forEach(([field], k) => {
        const idx = names.indexOf(field);
        if (idx > 0) this.netstat[k]!.set([], Number(values[idx]));
      });
      return;
    }
  }

  private readSockstat(): void {
    const s = readText('net/sockstat');
    if (s === null) return this.onError('host_sockstat');
    const m = /^TCP: (.*)$/m.exec(s);
    if (!m) return;
    const f = m[1]!.split(' ');
    for (let i = 0; i + 1 < f.length; i += 2) {
      const state = f[i] === 'tw' ? 'time_wait' : f[i]!;
      this.sockets.set([state], Number(f[i + 1]));
    }
  }
}
