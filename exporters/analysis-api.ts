/**
 * `GET /api/v1/analysis[?since=EPOCH_SECONDS][&points=N]`: the analysis stage's verdict, steps, knee and
 * history as JSON, for `redline report --agent` and the live view (which asks for the rows since
 * its last update; `points` reduces the history to at most N rows for drawing).
 */
import type http from 'node:http';
import type { AnalysisSnapshot } from '../analysis/stage.js';

export const ANALYSIS_API_PATH = '/api/v1/analysis';

export interface SnapshotSource {
  snapshot(sinceSeconds?: number, points?: number): AnalysisSnapshot;
}

export function analysisHandler(source: SnapshotSource): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'text/plain; charset=utf-8', allow: 'GET, HEAD' });
      res.end('use GET\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const sinceText = url.searchParams.get('since');
    const since = sinceText === null || sinceText === '' ? undefined : Number(sinceText);
    if (since !== undefined && !Number.isFinite(since)) {
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('since: expected epoch seconds\n');
      return;
    }
    const pointsText = url.searchParams.get('points');
    const points = pointsText === null || pointsText === '' ? undefined : Number(pointsText);
    if (points !== undefined && !(Number.isInteger(points) && points >= 10)) {
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('points: expected a whole number of at least 10\n');
      return;
    }
    const body = JSON.stringify(source.snapshot(since, points));
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}
