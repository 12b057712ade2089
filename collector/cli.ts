/**
 * `redline` command line: the agent by default, plus the `demo` and `probe-path` subcommands.
 */
import { parseArgs, loadConfigFile, helpText, ConfigError, type Settings } from './config.js';
import { startAgent, packageVersion, buildMapper, type ExtraSources, type ExtraSource } from './agent.js';
import type { Store } from '../core/store.js';
import type { Logger } from '../core/log.js';
import type { GroupSpec } from './host/groups.js';

// The host collector, the probes and the demo load on demand (dynamic imports): an agent that
// only serves statsd never loads them.
interface HostOptionsLike {
  intervalMs: number;
  perProcess: boolean;
  groups: GroupSpec[];
}

export async function main(argv: string[]): Promise<void> {
  const sub = argv[0];
  if (sub === 'demo') {
    const { runDemo } = await import('../examples/demo/run.js');
    process.exitCode = await runDemo(argv.slice(1));
    return;
  }
  if (sub === 'probe-path') {
    const { probePath } = await import('./probe/path.js');
    process.stdout.write(probePath() + '\n');
    return;
  }

  let parsed;
  let hostSection: unknown;
  let configFile = '';
  try {
    parsed = parseArgs(argv);
    configFile = parsed.settings.get('config') as string;
    if (configFile) hostSection = loadConfigFile(configFile, parsed).host;
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  const settings = parsed.settings;
  if (settings.get('help')) {
    process.stdout.write(helpText(packageVersion()));
    return;
  }
  if (settings.get('version')) {
    process.stdout.write(`redline ${packageVersion()} (node ${process.versions.node})\n`);
    return;
  }
  if (parsed.positional.length > 0) fail(`unexpected argument ${JSON.stringify(parsed.positional[0])} (see redline --help)`);

  if (settings.get('check-config')) {
    try {
      buildMapper(settings);
      const groupsGiven = (settings.get('sut') as string[]).length + (settings.get('injector') as string[]).length > 0;
      if (groupsGiven || hostSection !== undefined) await buildHostOptions(settings, hostSection, configFile);
    } catch (err) {
      fail(`configuration is invalid: ${(err as Error).message}`);
    }
    process.stdout.write('configuration is valid\n');
    return;
  }

  let agent;
  try {
    agent = await startAgent(settings, { extraSources: (store, logger) => extraSources(settings, hostSection, configFile, store, logger) });
  } catch (err) {
    fail((err as Error).message);
  }

  const shutdown = (signal: string): void => {
    process.stderr.write(`redline: ${signal}, shutting down\n`);
    // A deadline: a stuck close must not keep the agent alive.
    setTimeout(() => process.exit(1), 5000).unref();
    agent
      .stop()
      .then(() => process.exit(0))
      .catch(() => process.exit(1));
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGHUP', () => {
    agent.reload().catch(() => {
      // Logged by reload; the old configuration stays.
    });
  });
}

function fail(message: string): never {
  process.stderr.write(`redline: ${message}\n`);
  process.exit(2);
}

async function buildHostOptions(settings: Settings, hostSection: unknown, configFile: string): Promise<HostOptionsLike> {
  const host = await import('./host/index.js');
  const fromFile = hostSection !== undefined ? host.parseHostConfig(hostSection, configFile) : {};
  const groups = [
    ...(settings.get('sut') as string[]).map((v) => host.parseGroupFlag(v, 'sut')),
    ...(settings.get('injector') as string[]).map((v) => host.parseGroupFlag(v, 'injector')),
    ...(fromFile.groups ?? []),
  ];
  return {
    ...fromFile,
    intervalMs: settings.get('host.interval') as number,
    perProcess: settings.get('host.per-process') as boolean,
    groups,
  };
}

async function extraSources(settings: Settings, hostSection: unknown, configFile: string, store: Store, logger: Logger): Promise<ExtraSources> {
  const sources: ExtraSource[] = [];
  let enrich: ExtraSources['enrich'];
  if (settings.get('host.enabled')) {
    const host = await import('./host/index.js');
    const opts = await buildHostOptions(settings, hostSection, configFile);
    const collector = host.createHostCollector(store, opts);
    sources.push({
      description: `host collector every ${opts.intervalMs} ms, groups: ${opts.groups.map((g) => `${g.name} (${g.role})`).join(', ') || 'none'}`,
      start: () => collector.start(),
      stop: () => collector.stop(),
    });
    enrich = (labels) => {
      if (labels.has('group')) return;
      const pid = Number(labels.get('pid'));
      if (!Number.isInteger(pid) || pid <= 0) return;
      const g = collector.groupOf(pid);
      if (g) labels.set('group', g.group);
    };
  }
  const targets = settings.get('probe.http') as string[];
  if (targets.length > 0) {
    const probe = await import('./probe/http.js');
    const p = new probe.HttpProbe(store, targets.map((t) => probe.parseHttpTargetFlag(t)), {
      intervalMs: settings.get('probe.http-interval') as number,
      timeoutMs: settings.get('probe.http-timeout') as number,
    });
    sources.push({
      description: `HTTP probe of ${targets.join(', ')}`,
      start: () => p.start(),
      stop: () => p.stop(),
    });
  }
  void logger;
  return enrich ? { sources, enrich } : { sources };
}
