/** Debian's Chromium driven by playwright-core: what the dashboard's tests and its bench open pages in. */
import { chromium, type Browser } from 'playwright-core';

/** Where Debian installs Chromium (`apt-get install chromium`). */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** A headless Chromium; close it after. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}
