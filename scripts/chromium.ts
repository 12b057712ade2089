/**
 * The Chromium the tests, the benchmarks and the screenshot scripts drive: Debian's (or the one
 * `CHROMIUM` names), with the flags that keep it off the network.
 */
export const CHROMIUM = {
  executablePath: process.env['CHROMIUM'] ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
};
