import { describe, it, expect } from 'vitest';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './helpers/agent.js';
import { fixtureHtml, fixtureSnapshot } from '../scripts/report-fixture.js';

const PNG = path.join(ROOT, 'docs', 'img', 'report.png');

describe('the README screenshot of redline report', () => {
  it('was made from the HTML the report renders today (else: npm run docs:report)', () => {
    const want = crypto.createHash('sha256').update(fixtureHtml()).digest('hex');
    const have = fs.readFileSync(`${PNG}.sha256`, 'utf8').trim();
    expect(have, 'docs/img/report.png is stale: run npm run docs:report and commit it').toBe(want);
  });

  it('is a real, non-blank 1280-pixel-wide PNG', () => {
    const png = fs.readFileSync(PNG);
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(png.readUInt32BE(16)).toBe(1280);
    expect(png.readUInt32BE(20)).toBeGreaterThan(600);
    expect(png.length).toBeGreaterThan(40_000);
  });

  it('shows a recorded ramp whose verdict is the SUT', () => {
    const s = fixtureSnapshot();
    expect(s.verdict.limit).toBe('sut');
    expect(s.verdict.first?.group).toBe('api');
    expect(s.knee.step).not.toBeNull();
  });
});
