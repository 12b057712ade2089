// k6 ramp test reporting to Redline (`redline --preset k6 --injector k6='^k6 run' --sut api=...`).
//
// k6 v0.53 and later, through its OpenTelemetry output (`experimental-opentelemetry` before v1.4):
//   K6_OTEL_EXPORTER_PROTOCOL=http/protobuf K6_OTEL_HTTP_EXPORTER_ENDPOINT=127.0.0.1:4318 \
//   K6_OTEL_HTTP_EXPORTER_INSECURE=true K6_OTEL_METRIC_PREFIX=k6_ K6_OTEL_EXPORT_INTERVAL=1s \
//   k6 run --out opentelemetry -e TARGET=http://127.0.0.1:8080 script.js
//
// k6 before v0.55, through its statsd output (removed in v0.55; xk6-output-statsd keeps it):
//   K6_STATSD_ADDR=127.0.0.1:8125 K6_STATSD_ENABLE_TAGS=true \
//   K6_STATSD_TAG_BLOCKLIST=vu,iter,url,group K6_STATSD_PUSH_INTERVAL=1s \
//   k6 run --out statsd -e TARGET=http://127.0.0.1:8080 script.js
import http from 'k6/http';
import { check, sleep } from 'k6';

const TARGET = __ENV.TARGET || 'http://127.0.0.1:8080';

export const options = {
  scenarios: {
    ramp: {
      // Open model, as the demo: scenarios started per second, whatever the latency.
      executor: 'ramping-arrival-rate',
      startRate: 10,
      timeUnit: '1s',
      preAllocatedVUs: 50,
      maxVUs: 500,
      stages: [
        { target: 20, duration: '1m' },
        { target: 40, duration: '1m' },
        { target: 80, duration: '1m' },
      ],
    },
  },
};

export default function () {
  const login = http.post(`${TARGET}/login`, JSON.stringify({ user: 'u', password: 'p' }), {
    headers: { 'content-type': 'application/json' },
    tags: { name: 'login' },
  });
  check(login, { login_ok: (r) => r.status === 200 });
  http.get(`${TARGET}/work`, { tags: { name: 'work' } });
  http.post(`${TARGET}/logout`, '{}', { tags: { name: 'logout' } });
  sleep(0.1);
}
