// A real browser for console tests: Debian's Chromium (installed from Debian's packages when missing),
// driven by playwright-core, headless, on loopback only.
import fs from 'node:fs/promises';
import { chromium, type Browser } from 'playwright-core';
import { ensureDebianPackages } from './debian.js';

export const CHROMIUM = '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  await ensureDebianPackages(['chromium'], () =>
    fs.access(CHROMIUM, fs.constants.X_OK).then(
      () => true,
      () => false,
    ),
  );
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
