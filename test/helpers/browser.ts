import { chromium, type Browser } from 'playwright-core';

/**
 * Debian's chromium package (`apt-get install -y chromium`); playwright-core never downloads a browser.
 * CHROMIUM_PATH overrides it on machines that keep the browser elsewhere.
 */
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

// --no-sandbox: headless Chromium runs as root in CI. The rest stop it reaching the network at start.
export const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A headless Chromium; the caller closes it. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: true });
}
