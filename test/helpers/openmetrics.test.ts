import { describe, expect, it } from 'vitest';
import { parseOpenMetrics, OpenMetricsError } from './openmetrics.js';

const ok = `# TYPE a counter
# HELP a Things with \\"quotes\\" and \\\\ and \\n.
a_total{k="v\\"x"} 1
a_created{k="v\\"x"} 1.7e9
# TYPE h histogram
h_bucket{le="0.5"} 1
h_bucket{le="+Inf"} 2
h_count 2
h_sum 1.5
# TYPE s summary
s{quantile="0.5"} NaN
s_sum 0
s_count 0
# TYPE g gauge
g -1.5 1700000000
g{x="1"} +Inf
untyped_thing 3
# EOF
`;

describe('strict OpenMetrics parser', () => {
  it('accepts a valid exposition and reads its families', () => {
    const fams = parseOpenMetrics(ok);
    expect(fams.map((f) => `${f.name}:${f.type}:${f.samples.length}`)).toEqual(['a:counter:2', 'h:histogram:4', 's:summary:3', 'g:gauge:2', 'untyped_thing:unknown:1']);
    expect(fams[0]!.help).toBe('Things with "quotes" and \\ and \n.');
    expect(fams[0]!.samples[0]!.labels).toEqual({ k: 'v"x' });
  });

  const bad: [string, string, RegExp][] = [
    ['no EOF', '# TYPE g gauge\ng 1\n', /missing # EOF/],
    ['a duplicate label', '# TYPE h histogram\nh_bucket{le="5",le="1"} 1\n# EOF\n', /duplicate label le/],
    ['le on a histogram _sum', '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_sum{le="1"} 1\n# EOF\n', /le on h_sum/],
    ['a family split in two', '# TYPE g gauge\ng 1\n# TYPE x gauge\nx 1\n# TYPE g gauge\ng{a="1"} 1\n# EOF\n', /appears twice/],
    ['X and X_total as two families', '# TYPE x gauge\nx 1\n# TYPE x counter\nx_total 1\n# EOF\n', /appears twice/],
    ['a counter without _total', '# TYPE c counter\nc 1\n# EOF\n', /family c appears twice/],
    ['a negative counter', '# TYPE c counter\nc_total -1\n# EOF\n', /must not be negative/],
    ['a negative histogram sum', '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_count 1\nh_sum -3\n# EOF\n', /_sum must not be negative/],
    ['no +Inf bucket', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_count 1\n# EOF\n', /no le="\+Inf"/],
    ['count not the +Inf bucket', '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_count 1\n# EOF\n', /_count 1 is not/],
    ['buckets out of order', '# TYPE h histogram\nh_bucket{le="2"} 1\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 1\n# EOF\n', /ascending/],
    ['quantile on a summary _count', '# TYPE s summary\ns_count{quantile="0.5"} 1\n# EOF\n', /quantile on s_count/],
    ['a quantile out of range', '# TYPE s summary\ns{quantile="2"} 1\n# EOF\n', /not in \[0, 1\]/],
    ['a __ label', '# TYPE g gauge\ng{__x="1"} 1\n# EOF\n', /reserved label name/],
    ['a raw quote in HELP', '# HELP g say "hi"\n# TYPE g gauge\ng 1\n# EOF\n', /unescaped "/],
    ['a bad escape', '# TYPE g gauge\ng{a="\\t"} 1\n# EOF\n', /invalid escape/],
    ['a duplicate sample', '# TYPE g gauge\ng{a="1"} 1\ng{a="1"} 2\n# EOF\n', /duplicate sample/],
    ['interleaved points', '# TYPE s summary\ns_sum{a="1"} 1\ns_sum{a="2"} 1\ns_count{a="1"} 1\n# EOF\n', /interleaved/],
    ['a bad value', '# TYPE g gauge\ng 0x10\n# EOF\n', /invalid value/],
    ['two spaces', '# TYPE g gauge\ng  1\n# EOF\n', /expected value/],
    ['a trailing comma', '# TYPE g gauge\ng{a="1",} 1\n# EOF\n', /invalid label name ""/],
    ['content after EOF', '# TYPE g gauge\ng 1\n# EOF\ng 2\n', /missing # EOF|content after/],
    ['a second TYPE', '# TYPE g gauge\n# TYPE g counter\n# EOF\n', /second TYPE/],
  ];
  for (const [what, text, reason] of bad) {
    it(`rejects ${what}`, () => {
      let err: unknown;
      try {
        parseOpenMetrics(text);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(OpenMetricsError);
      expect((err as Error).message).toMatch(reason);
    });
  }
});
