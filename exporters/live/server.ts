/**
 * The live view's routes, on express: the page at `/`, its script, styles and the chart library
 * from the package itself (nothing from a CDN, so it works offline), the snapshot as JSON and the
 * ticks as Server-Sent Events. `/metrics` stays on the agent's node:http server (see
 * bench/RESULTS.md, "Live view"), which hands every other path to this app.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import express from 'express';
import compression from 'compression';
import type { LiveView } from './live.js';
import { renderPage } from './page.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** Where app.js and app.css live: beside the sources (also shipped in the package and the image). */
export const ASSETS_DIR = [path.resolve(here, 'assets'), path.resolve(here, '..', '..', '..', 'exporters', 'live', 'assets')].find((p) =>
  fs.existsSync(path.join(p, 'app.js')),
)!;
const require = createRequire(import.meta.url);
export const UPLOT_DIR = path.dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));

/** Ranges the page offers, in seconds (null: the whole history). */
export const RANGES: Record<string, number | null> = { '5m': 300, '30m': 1800, all: null };

export interface LiveAppOptions {
  live: LiveView;
  telemetryPath: string;
  /** The HTML report of the run so far, as `redline report --out` writes it. */
  report: (origin: string) => string;
}

export function createLiveApp(opts: LiveAppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // Event streams stay uncompressed: compression would hold each tick back until a buffer fills.
  app.use(compression({ filter: (req, res) => !req.path.endsWith('/events') && compression.filter(req, res) }));
  const security = (_req: express.Request, res: express.Response, next: express.NextFunction): void => {
    // Nothing on the page may come from elsewhere: the policy is the test of "no CDN".
    res.setHeader(
      'content-security-policy',
      "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    );
    res.setHeader('x-content-type-options', 'nosniff');
    next();
  };
  app.use(security);

  app.get('/', (_req, res) => {
    res.type('html').send(renderPage(opts.live.about(), opts.telemetryPath));
  });
  app.get('/favicon.ico', (_req, res) => {
    res.type('image/svg+xml').sendFile(path.join(ASSETS_DIR, 'favicon.svg'));
  });
  const statics = { maxAge: '1h', index: false, fallthrough: false } as const;
  app.use('/live/assets', express.static(ASSETS_DIR, statics));
  app.use('/live/uplot', express.static(UPLOT_DIR, statics));

  app.get('/live/report.html', (req, res) => {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
    res.setHeader('content-disposition', `attachment; filename="redline-report-${stamp}.html"`);
    res.setHeader('cache-control', 'no-store');
    // A self-contained file with its charts inlined: the page's policy is not the report's.
    res.removeHeader('content-security-policy');
    res.type('html').send(opts.report(`http://${req.headers.host ?? '127.0.0.1'}`));
  });
  app.get('/api/v1/live', (req, res) => {
    const r = typeof req.query['range'] === 'string' ? req.query['range'] : '5m';
    if (!(r in RANGES)) {
      res.status(400).json({ error: `range must be one of ${Object.keys(RANGES).join(', ')}` });
      return;
    }
    res.setHeader('cache-control', 'no-store');
    res.type('json').send(opts.live.snapshotJson(r, RANGES[r]!));
  });
  app.get('/api/v1/live/events', (req, res) => {
    if (!opts.live.addViewer(res)) {
      res.status(503).type('text').send('too many live viewers\n');
      return;
    }
    req.socket.setNoDelay(true);
  });
  app.use((_req, res) => {
    res.status(404).type('text').send('not found\n');
  });
  return app;
}
