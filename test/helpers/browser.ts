// Pages under attack in Chromium: giving whatever a hostile page carries every chance to run.
import type { Page } from 'playwright-core';

/**
 * Hovers every element of the page's `article`, clicks each link there that has no `href` or a script URL (others
 * would navigate away), toggles every `<details>`, and waits a moment: any event handler the page carries has then had
 * its chance to run, for the caller to look for what it would have left behind.
 */
export async function provokeHandlers(page: Page): Promise<void> {
  for (const element of await page.locator('article *').all()) {
    await element.hover({ timeout: 200, force: true }).catch(() => {});
  }
  await page.locator('article a').evaluateAll((links) => {
    for (const link of links) {
      const href = link.getAttribute('href');
      if (href === null || /^\s*javascript:/i.test(href))
        link.dispatchEvent(new MouseEvent('click', { bubbles: true }));
    }
  });
  await page.locator('details').evaluateAll((all) => {
    for (const details of all) (details as HTMLDetailsElement).open = !(details as HTMLDetailsElement).open;
  });
  await page.waitForTimeout(100);
}
