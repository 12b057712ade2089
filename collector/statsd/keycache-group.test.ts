/**
 * A probe's series get their `group` whatever the order of arrival: datagrams before the host
 * collector knows the pid are cached without it, and resolved again once a process joins a group.
 * The real ingest, store and labeller; the pid → group lookup is a stand-in the test moves.
 */
import { describe, it, expect } from 'vitest';
import { Store } from '../../core/store.js';
import { silentLogger } from '../../core/log.js';
import { groupLabeller, type GroupRef, type PidGroups } from '../../core/pid-groups.js';
import { render } from '../../exporters/exposition.js';
import { StatsdIngest } from './ingest.js';
import { Mapper } from './mapper.js';
import { valueOf } from '../../test/helpers/exposition.js';

class Groups implements PidGroups {
  generation = 0;
  readonly byPid = new Map<number, GroupRef>();
  lookups = 0;
  join(pid: number, group: string): void {
    this.byPid.set(pid, { group, role: 'sut' });
    this.generation++;
  }
  groupOf(pid: number): GroupRef | undefined {
    this.lookups++;
    return this.byPid.get(pid);
  }
}

function setup() {
  const store = new Store({ maxSeries: 1000, setIntervalMs: 10_000 });
  const groups = new Groups();
  const ingest = new StatsdIngest(store, Mapper.empty(), {
    tags: { dogstatsd: true, influx: false, librato: false, signalfx: false },
    cacheSize: 1000,
    logger: silentLogger,
    enrich: groupLabeller(groups),
    passthrough: Mapper.fromYaml('defaults:\n  ttl: 60s\nmappings: []\n', '<probe>'),
  });
  const send = (text: string): void => ingest.handle(Buffer.from(text));
  const metrics = (): string => render(store, 'text');
  return { store, groups, ingest, send, metrics };
}

const GAUGE = 'redline_nodejs_eventloop_utilization:0.25|g|#service:api,role:sut,pid:4242';
const COUNTER = 'redline_nodejs_cpu_seconds_total:0.5|c|#service:api,role:sut,pid:4242,mode:user';

describe('probe series and the host collector', () => {
  it('a series seen before its pid is known gets its group at the first join, and keeps it', () => {
    const t = setup();
    t.send(`${GAUGE}\n${COUNTER}`);
    t.send(COUNTER);
    expect(t.metrics()).toContain('redline_nodejs_eventloop_utilization{pid="4242",role="sut",service="api"} 0.25');
    expect(valueOf(t.metrics(), 'redline_nodejs_cpu_seconds_total{mode="user",pid="4242",role="sut",service="api"}')).toBe(1);

    // A cache hit while nothing joined asks nobody.
    const asked = t.groups.lookups;
    t.send(GAUGE);
    expect(t.groups.lookups).toBe(asked);

    // Another process joins: the pid is still unknown, the series stay as they are.
    t.groups.join(1, 'other');
    t.send(GAUGE);
    expect(t.metrics()).not.toContain('group=');

    t.groups.join(4242, 'api');
    t.send(`${GAUGE}\n${COUNTER}`);
    const text = t.metrics();
    expect(text).toContain('redline_nodejs_eventloop_utilization{group="api",pid="4242",role="sut",service="api"} 0.25');
    // The counter's total moved with it (1 before, 0.5 now), and no ungrouped copy is left behind.
    expect(valueOf(text, 'redline_nodejs_cpu_seconds_total{group="api",mode="user",pid="4242",role="sut",service="api"}')).toBe(1.5);
    expect(text).not.toMatch(/redline_nodejs_[a-z_]+\{pid=/);

    // Kept: later moves of the lookup (the pid leaving, others joining) do not take it away.
    t.groups.byPid.delete(4242);
    t.groups.join(7, 'other');
    t.send(`${GAUGE}\n${COUNTER}`);
    expect(valueOf(t.metrics(), 'redline_nodejs_cpu_seconds_total{group="api",mode="user",pid="4242",role="sut",service="api"}')).toBe(2);
    expect(t.metrics()).not.toMatch(/redline_nodejs_[a-z_]+\{pid=/);
  });

  it('series without a pid are final at once (never looked up again)', () => {
    const t = setup();
    t.send('requests:1|c|#route:a');
    const asked = t.groups.lookups;
    const misses = t.ingest.cacheMisses;
    t.groups.join(1, 'x');
    t.send('requests:1|c|#route:a');
    expect(t.groups.lookups).toBe(asked);
    expect(t.ingest.cacheMisses).toBe(misses);
    expect(valueOf(t.metrics(), 'requests{route="a"}')).toBe(2);
  });

  it('a tag `group` sent by the program itself wins', () => {
    const t = setup();
    t.groups.join(4242, 'api');
    t.send('redline_nodejs_active_handles:3|g|#service:api,role:sut,pid:4242,group:mine');
    expect(t.metrics()).toContain('redline_nodejs_active_handles{group="mine",pid="4242",role="sut",service="api"} 3');
  });
});
