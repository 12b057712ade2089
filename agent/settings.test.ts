import { describe, it, expect, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadSettings, helpText, envName, parseDuration, ConfigError, FLAGS } from './settings.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redline-settings-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

let n = 0;
function file(text: string): string {
  const f = path.join(dir, `redline-${n++}.yaml`);
  fs.writeFileSync(f, text);
  return f;
}

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('loadSettings', () => {
  it('gives typed defaults when nothing is set', () => {
    const s = loadSettings([]);
    expect(s.statsd.listenUdp).toEqual({ host: '0.0.0.0', port: 8125 });
    expect(s.statsd.readBufferBytes).toBe(32 * 1024 * 1024);
    expect(s.statsd.setIntervalMs).toBe(10_000);
    expect(s.statsd.unixsocketMode).toBe(0o755);
    expect(s.statsd.tags).toEqual({ dogstatsd: true, influx: true, librato: true, signalfx: true });
    expect(s.web).toEqual({ listenAddress: { host: '0.0.0.0', port: 9102 }, telemetryPath: '/metrics', enableLifecycle: false, maxScrapes: 16, writeTimeoutMs: 30_000, maxExpositionBytes: 256 * 1024 ** 2, maxLabelValueBytes: 4096, configFile: '' });
    expect(s.host).toEqual({ enabled: true, intervalMs: 1000, perProcess: false, groups: [] });
    expect(s.probe).toEqual({ http: [], intervalMs: 1000, timeoutMs: 2000 });
    expect(s.logLevel).toBe('info');
  });

  it('is frozen all the way down', () => {
    const s = loadSettings(['--sut=api=node server.js']);
    expect(Object.isFrozen(s)).toBe(true);
    expect(Object.isFrozen(s.statsd.tags)).toBe(true);
    expect(Object.isFrozen(s.host.groups)).toBe(true);
    expect(Object.isFrozen(s.host.groups[0])).toBe(true);
    // The group's regex still matches (matching writes lastIndex, so it is left unfrozen).
    expect(s.host.groups[0]!.cmdline![0]!.test('/usr/bin/node server.js')).toBe(true);
  });

  it('reads every flag form statsd_exporter users write', () => {
    const s = loadSettings(['--statsd.listen-udp', '127.0.0.1:9125', '--statsd.listen-tcp=', '--no-statsd.parse-dogstatsd-tags', '--web.enable-lifecycle', '--statsd.default-buckets=0.1,1,10', '--statsd.read-buffer=1MiB', '--statsd.cache-type=random', '-h']);
    expect(s.statsd.listenUdp).toEqual({ host: '127.0.0.1', port: 9125 });
    expect(s.statsd.listenTcp).toBeNull();
    expect(s.statsd.tags.dogstatsd).toBe(false);
    expect(s.web.enableLifecycle).toBe(true);
    expect(s.statsd.defaultBuckets).toEqual([0.1, 1, 10]);
    expect(s.statsd.readBufferBytes).toBe(1024 * 1024);
    expect(s.help).toBe(true);
  });

  it('adds up repeatable flags in order: --sut, then --injector, then the file\'s process groups', () => {
    const f = file('host:\n  process_groups:\n    - name: db\n      role: sut\n      comm: [postgres]\n');
    const s = loadSettings([`--config=${f}`, '--injector=locust=locust', '--sut=api=node a.js', '--sut=web=node b.js', '--preset=k6', '--preset=locust']);
    expect(s.host.groups.map((g) => `${g.name}:${g.role}`)).toEqual(['api:sut', 'web:sut', 'locust:injector', 'db:sut']);
    expect(s.host.groups[3]!.comm).toEqual(['postgres']);
    expect(s.statsd.presets.map((p) => p.name)).toEqual(['k6', 'locust']);
    expect(s.statsd.presets.every((p) => fs.existsSync(p.file))).toBe(true);
  });

  it('takes the command line over the environment over the file over the defaults', () => {
    const f = file('statsd:\n  max-series: 7\n  cache_size: 8\n  set-interval: 3s\nweb.telemetry-path: /file\n');
    const env = { [envName('statsd.max-series')]: '70', [envName('statsd.cache-size')]: '80' };
    const s = loadSettings([`--config=${f}`, '--statsd.max-series=700'], env);
    expect(s.statsd.maxSeries).toBe(700);
    expect(s.statsd.cacheSize).toBe(80);
    expect(s.statsd.setIntervalMs).toBe(3000);
    expect(s.web.telemetryPath).toBe('/file');
    expect(s.configFile).toBe(f);
  });

  it('reads the environment: REDLINE_<NAME>, lists one value per line, the config file too', () => {
    const f = file('statsd:\n  max-series: 9\n');
    const s = loadSettings([], {
      REDLINE_CONFIG: f,
      REDLINE_SUT: 'api=node a.js\nweb=node b,c.js\n',
      REDLINE_STATSD_LISTEN_UDP: '',
      REDLINE_HOST_PER_PROCESS: 'yes',
      // The probe's own variables are not settings and are left alone.
      REDLINE_STATSD: '127.0.0.1:8125',
      REDLINE_HELP: 'true',
    });
    expect(s.statsd.maxSeries).toBe(9);
    expect(s.host.groups.map((g) => g.name)).toEqual(['api', 'web']);
    expect(s.host.groups[1]!.cmdline![0]!.source).toBe('node b,c.js');
    expect(s.statsd.listenUdp).toBeNull();
    expect(s.host.perProcess).toBe(true);
    expect(s.help).toBe(false);
  });

  it('lets a flag list replace the file\'s list rather than add to it', () => {
    const f = file('probe:\n  http:\n    - a=http://127.0.0.1:1/\n    - b=http://127.0.0.1:2/\n');
    expect(loadSettings([`--config=${f}`]).probe.http.map((t) => t.name)).toEqual(['a', 'b']);
    expect(loadSettings([`--config=${f}`, '--probe.http=c=http://127.0.0.1:3/']).probe.http.map((t) => t.name)).toEqual(['c']);
  });
});

describe('refusals name where the value came from', () => {
  it('names the flag', () => {
    expect(refusal(() => loadSettings(['--statsd.listen-udpp=:1']))).toBe('unknown flag --statsd.listen-udpp (see redline --help)');
    expect(refusal(() => loadSettings(['--statsd.max-series']))).toBe('--statsd.max-series needs a value');
    expect(refusal(() => loadSettings(['--statsd.max-series=lots']))).toBe('--statsd.max-series: expected a whole number, got "lots"');
    expect(refusal(() => loadSettings(['--host.interval=fast']))).toMatch(/^--host\.interval: invalid duration "fast"/);
    expect(refusal(() => loadSettings(['--statsd.listen-udp=nowhere']))).toMatch(/^--statsd\.listen-udp: expected host:port/);
    expect(refusal(() => loadSettings(['--statsd.default-observer-type=timer']))).toMatch(/^--statsd\.default-observer-type: expected histogram, summary/);
    expect(refusal(() => loadSettings(['--statsd.unixsocket-mode=999']))).toMatch(/^--statsd\.unixsocket-mode: expected octal/);
    expect(refusal(() => loadSettings(['--log.level=loud']))).toMatch(/^--log\.level: expected debug, info, warn, error/);
    expect(refusal(() => loadSettings(['--sut=noequals']))).toMatch(/^--sut: expected NAME=REGEX/);
    expect(refusal(() => loadSettings(['--probe.http=a=ftp://x/']))).toMatch(/^--probe\.http a: only http and https/);
    expect(refusal(() => loadSettings(['--preset=nope']))).toMatch(/unknown preset "nope" \(known: .*k6/);
    expect(refusal(() => loadSettings(['--statsd.event-flush-interval=soon']))).toMatch(/^--statsd\.event-flush-interval: invalid duration/);
    expect(refusal(() => loadSettings(['stray']))).toMatch(/unexpected argument "stray"/);
  });

  it('names the environment variable', () => {
    expect(refusal(() => loadSettings([], { REDLINE_STATSD_MAX_SERIES: 'abc' }))).toBe('environment variable REDLINE_STATSD_MAX_SERIES: expected a whole number, got "abc"');
    expect(refusal(() => loadSettings([], { REDLINE_INJECTOR: 'x=(' }))).toMatch(/^environment variable REDLINE_INJECTOR: --injector x: invalid regex/);
  });

  it('names the file and the line of every setting', () => {
    const cases: [string, number, RegExp][] = [
      ['statsd:\n  listen-udp: ":0"\n  bogus: 1\n', 3, /unknown setting "statsd\.bogus"/],
      ['statsd:\n  max-series: many\n', 2, /statsd\.max-series: expected a whole number/],
      ['web:\n  telemetry-path: metrics\n', 2, /web\.telemetry-path: must start with \//],
      ['statsd:\n\n  listen-tcp: "host"\n', 3, /statsd\.listen-tcp: expected host:port/],
      ['host:\n  interval: 1s\n  per-process: maybe\n', 3, /host\.per-process: expected true or false/],
      ['sut:\n  - api=node a.js\n  - bad\n', 3, /--sut: expected NAME=REGEX/],
      ['probe:\n  http:\n    - a=http://127.0.0.1:1/\n    - b=nota url\n', 4, /--probe\.http b: invalid URL/],
      ['preset: [k6, nope]\n', 1, /unknown preset "nope"/],
      ['statsd:\n  listen-udp: [":1", ":2"]\n', 2, /statsd\.listen-udp: expected a single value, got a list/],
      ['help: true\n', 1, /unknown setting "help" \(only on the command line\)/],
      ['statsd:\n  max-series: 1\n  max-series: 2\n', 3, /unique/i],
      ['- a\n- b\n', 1, /expected a mapping of settings/],
    ];
    for (const [text, line, problem] of cases) {
      const f = file(text);
      const msg = refusal(() => loadSettings([`--config=${f}`]));
      expect(msg, text).toMatch(problem);
      expect(msg.startsWith(`${f}:${line}: `), `${msg} (wanted line ${line})`).toBe(true);
    }
    expect(refusal(() => loadSettings([`--config=${path.join(dir, 'missing.yaml')}`]))).toMatch(/missing\.yaml: cannot read/);
  });

  it('names the file and the line of every key of a process group', () => {
    const head = 'host:\n  interval: 1s\n  process_groups:\n    - name: db\n      role: sut\n      comm: postgres\n';
    const cases: [string, number, RegExp][] = [
      ['    - name: x\n      colour: red\n', 8, /host\.process_groups\[1\]: unknown key "colour"/],
      ['    - name: x\n      role: boss\n      comm: x\n', 8, /host\.process_groups\[1\] \(x\): role must be sut, injector or other, got "boss"/],
      ['    - name: "has space"\n      comm: x\n', 7, /host\.process_groups\[1\]\.name "has space" may only hold/],
      ['    - role: sut\n      comm: x\n', 7, /host\.process_groups\[1\]: a group needs a name/],
      ['    - name: x\n      role: sut\n', 7, /host\.process_groups\[1\] \(x\): give at least one of comm, exe, cmdline/],
      ['    - name: x\n      cmdline:\n        - ok\n        - "bad("\n', 10, /host\.process_groups\[1\] \(x\): invalid cmdline regex "bad\("/],
      ['    - name: x\n      exe:\n        - /usr/bin/x\n        - { a: 1 }\n', 10, /host\.process_groups\[1\] \(x\): exe must be a string or a list of strings/],
      ['    - just a string\n', 7, /host\.process_groups\[1\] must be a mapping/],
    ];
    for (const [tail, line, problem] of cases) {
      const f = file(head + tail);
      const msg = refusal(() => loadSettings([`--config=${f}`]));
      expect(msg, tail).toMatch(problem);
      expect(msg.startsWith(`${f}:${line}: `), `${msg} (wanted line ${line})`).toBe(true);
    }
    const notList = file('host:\n  process_groups: db\n');
    expect(refusal(() => loadSettings([`--config=${notList}`]))).toBe(`${notList}:2: host.process_groups must be a list`);
  });

  it('reads a full process group with every matcher', () => {
    const f = file('host:\n  process_groups:\n    - name: gevent\n      role: injector\n      comm: [python3]\n      exe: /usr/bin/python3\n      cmdline: ["locustfile", "--headless"]\n');
    const [g] = loadSettings([`--config=${f}`]).host.groups;
    expect(g).toMatchObject({ name: 'gevent', role: 'injector', comm: ['python3'], exe: ['/usr/bin/python3'] });
    expect(g!.cmdline!.map((r) => r.source)).toEqual(['locustfile', '--headless']);
  });
});

describe('the configuration files in the repository', () => {
  it('load: redline.example.yaml and the compose configuration', () => {
    const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
    const example = loadSettings([`--config=${path.join(root, 'redline.example.yaml')}`]);
    expect(example.host.groups.map((g) => `${g.name}:${g.role}`)).toEqual(['api:sut', 'locust:injector', 'db:sut', 'gevent:injector']);
    expect(example.probe.http.map((t) => t.name)).toEqual(['api']);
    const compose = loadSettings([`--config=${path.join(root, 'provisioning', 'redline', 'redline.yaml')}`]);
    expect(compose.statsd.listenUdp).toEqual({ host: '0.0.0.0', port: 8125 });
  });
});

describe('help and parsers', () => {
  it('lists every flag of the table, with its default', () => {
    const text = helpText('1.2.3');
    for (const f of FLAGS) expect(text).toContain(`--${f.compatOnly || f.kind !== 'bool' ? '' : '[no-]'}${f.name}`);
    expect(text).toContain('--statsd.read-buffer=BYTES');
    expect(text).toContain('(default: 32MiB)');
    expect(text).toContain('REDLINE_STATSD_LISTEN_UDP');
  });

  it('parses Go durations and bare seconds', () => {
    expect(parseDuration('1m30s', 'x')).toBe(90_000);
    expect(parseDuration('250ms', 'x')).toBe(250);
    expect(parseDuration('2', 'x')).toBe(2000);
    expect(() => parseDuration('1 s', 'x')).toThrow(ConfigError);
    expect(() => parseDuration('', 'x')).toThrow(ConfigError);
  });
});
