import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { decodePng, pngStats } from './helpers/png.js';
import { DOCS_IMG, liveFixtureHash, rampFixture } from '../scripts/ramp-fixture.js';

const png = (scheme: string): string => path.join(DOCS_IMG, `live-${scheme}.png`);

describe('the screenshots of the live view (docs/img/live-*.png)', () => {
  const fixture = rampFixture();
  const want = liveFixtureHash(fixture);

  for (const scheme of ['light', 'dark'] as const) {
    it(`${scheme}: was made from today's page, script, styles and fixture (else: npm run docs:live)`, () => {
      const have = fs.readFileSync(`${png(scheme)}.sha256`, 'utf8').trim();
      expect(have, `docs/img/live-${scheme}.png is stale: run npm run docs:live and commit it`).toBe(want);
    });

    it(`${scheme}: is a real 1280-pixel-wide picture in its theme, not a blank page`, () => {
      const p = decodePng(fs.readFileSync(png(scheme)));
      expect(p.width).toBe(1280);
      expect(p.height).toBeGreaterThan(800);
      const s = pngStats(p);
      // Charts, text and banners: a blank or half-loaded page is one colour nearly everywhere.
      expect(s.busy).toBeGreaterThan(0.15);
      if (scheme === 'dark') expect(s.luminance).toBeLessThan(0.3);
      else expect(s.luminance).toBeGreaterThan(0.7);
    });
  }

  it('shows a ramp whose verdict is the SUT, with a knee, and every panel filled', () => {
    const snap = fixture.live.snapshot(300);
    expect(snap.verdict).toMatchObject({ state: 'sut_saturated', sut: { group: 'api' } });
    expect(snap.knees[0]!.kneeIndex).not.toBeNull();
    const panels = new Set(snap.series.map((s) => s.panel));
    for (const p of ['load', 'throughput', 'latency', 'errors', 'saturation', 'injector', 'intake']) expect(panels).toContain(p);
    expect(snap.t.length).toBe(180);
  });
});
