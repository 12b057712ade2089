/**
 * `redline` command line: the agent by default, plus the `demo`, `report` and `probe-path` subcommands.
 */
import { loadSettings, helpText, ConfigError, type Settings } from './settings.js';
import { startAgent, buildMapper, buildWebConfig } from './compose.js';
import { packageVersion } from './package.js';
import { Logger } from '../core/log.js';

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const sub = argv[0];
  if (sub === 'demo') {
    // Loaded on demand, as the probe path: the agent itself never loads the demo.
    const { runDemo } = await import('../demo/run.js');
    process.exitCode = await runDemo(argv.slice(1));
    return;
  }
  if (sub === 'report') {
    const { runReport } = await import('../exporters/report/cli.js');
    process.exitCode = await runReport(argv.slice(1));
    return;
  }
  if (sub === 'probe-path') {
    const { probePath } = await import('../collector/probe/path.js');
    process.stdout.write(probePath() + '\n');
    return;
  }

  // SIGHUP's default action kills the process: from here on it reloads, and one that arrives
  // during start-up (a large mapping file) is queued until the agent is ready.
  let running: Awaited<ReturnType<typeof startAgent>> | null = null;
  let reloadQueued = false;
  const reload = (): void => {
    if (running === null) {
      reloadQueued = true;
      return;
    }
    running.reload().catch(() => {
      // Logged by reload; the old configuration stays.
    });
  };
  process.on('SIGHUP', reload);

  let settings: Settings;
  try {
    settings = loadSettings(argv, env);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  if (settings.help) {
    process.stdout.write(helpText(packageVersion()));
    return;
  }
  if (settings.version) {
    process.stdout.write(`redline ${packageVersion()} (node ${process.versions.node})\n`);
    return;
  }
  if (settings.checkConfig) {
    // The settings are valid once loaded; the mapping files are read here as a start would.
    try {
      buildMapper(settings.statsd, { path: settings.dumpFsmPath, logger: new Logger(settings.logLevel) });
      buildWebConfig(settings.web);
    } catch (err) {
      fail(`configuration is invalid: ${(err as Error).message}`);
    }
    process.stdout.write('configuration is valid\n');
    return;
  }

  let agent: Awaited<ReturnType<typeof startAgent>>;
  try {
    agent = await startAgent(settings);
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
  running = agent;
  if (reloadQueued) reload();
}

/** Exit status 1 for every refusal (bad flag, bad file, busy port), as statsd_exporter. */
function fail(message: string): never {
  process.stderr.write(`redline: ${message}\n`);
  process.exit(1);
}
