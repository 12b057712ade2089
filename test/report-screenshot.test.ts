import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { decodePng, pngStats } from './helpers/png.js';
import { DOCS_IMG, rampFixture, reportFixtureHash, reportFixtureHtml } from '../scripts/ramp-fixture.js';

const PNG = path.join(DOCS_IMG, 'report.png');

describe('the README screenshot of redline report', () => {
  const fixture = rampFixture();

  it('was made from the HTML the report renders today (else: npm run docs:report)', () => {
    const want = reportFixtureHash(reportFixtureHtml(fixture));
    const have = fs.readFileSync(`${PNG}.sha256`, 'utf8').trim();
    expect(have, 'docs/img/report.png is stale: run npm run docs:report and commit it').toBe(want);
  });

  it('is a real, non-blank 1280-pixel-wide PNG in the light theme', () => {
    const p = decodePng(fs.readFileSync(PNG));
    expect(p.width).toBe(1280);
    expect(p.height).toBeGreaterThan(600);
    const s = pngStats(p);
    // A banner, a table and charts: a blank or half-loaded page is one colour nearly everywhere.
    expect(s.busy).toBeGreaterThan(0.15);
    expect(s.luminance).toBeGreaterThan(0.7);
  });

  it('shows a recorded ramp whose verdict is the SUT', () => {
    const s = fixture.analysis.snapshot();
    expect(s.verdict.limit).toBe('sut');
    expect(s.verdict.first?.group).toBe('api');
    expect(s.knee.step).not.toBeNull();
  });
});
