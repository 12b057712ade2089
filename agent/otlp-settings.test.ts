import { describe, expect, it } from 'vitest';
import { loadSettings, helpText } from './settings.js';

describe('OTLP settings', () => {
  it('receive on :4318 by default and push nowhere', () => {
    const s = loadSettings([]);
    expect(s.otlp.listenAddress).toEqual({ host: '0.0.0.0', port: 4318 });
    expect(s.otlp.listenAddressIsDefault).toBe(true);
    expect(s.otlp.maxRequestBytes).toBe(16 * 1024 * 1024);
    expect(s.otlp.export.endpoint).toBe('');
    expect(s.otlp.export).toMatchObject({ protocol: 'http/protobuf', intervalMs: 15_000, temporality: 'cumulative', maxQueue: 4 });
  });

  it('take the address, push and headers from flags and the environment', () => {
    const s = loadSettings(['--otlp.listen-address=127.0.0.1:14318', '--otlp.endpoint=https://otel.example:4318/v1/metrics', '--otlp.header', 'authorization=Bearer x=y', '--otlp.temporality=delta'], {
      REDLINE_OTLP_INTERVAL: '5s',
    });
    expect(s.otlp.listenAddress).toEqual({ host: '127.0.0.1', port: 14318 });
    expect(s.otlp.listenAddressIsDefault).toBe(false);
    expect(s.otlp.export).toMatchObject({ endpoint: 'https://otel.example:4318/v1/metrics', headers: { authorization: 'Bearer x=y' }, intervalMs: 5000, temporality: 'delta' });
    expect(loadSettings(['--otlp.listen-address=']).otlp.listenAddress).toBeNull();
  });

  it('load the OTLP rules of a preset that has them', () => {
    const s = loadSettings(['--preset', 'k6', '--preset', 'locust']);
    expect(s.otlp.mappingFiles.map((f) => f.split('/').slice(-2).join('/'))).toEqual(['otlp/k6.yml']);
  });

  it.each([
    [['--otlp.endpoint=localhost:4318'], '--otlp.endpoint: expected an http:// or https:// URL, got "localhost:4318"'],
    [['--otlp.header=novalue'], '--otlp.header: expected NAME=VALUE with an HTTP header name, got "novalue"'],
    [['--otlp.temporality=lowmemory'], '--otlp.temporality: expected cumulative, delta; got "lowmemory"'],
    [['--otlp.protocol=grpc'], '--otlp.protocol: expected http/protobuf, http/json; got "grpc"'],
  ])('refuse %j', (argv, message) => {
    expect(() => loadSettings(argv)).toThrow(message);
  });

  it('have their own --help section', () => {
    expect(helpText('0')).toContain('OpenTelemetry (OTLP receiver and push):\n  --otlp.listen-address=ADDR');
  });
});
