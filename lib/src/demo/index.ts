export { byteAt, PAGE_NAMES, pageHtml, pageTitle } from './content.js';
export { JOBS_MODULE, pageLength, type SaveItem, savePageLength } from './jobs.js';
export {
  demoItem,
  type PoliteSite,
  type PoliteSiteOptions,
  type PoliteSiteStats,
  startPoliteSite,
  type VirtualHostOptions,
  type VirtualHostStats,
} from './polite-site.js';
export {
  type DemoLatencyRange,
  type DemoSite,
  type DemoSiteOptions,
  type DemoStats,
  MAX_BYTES,
  MAX_REDIRECTS,
  MAX_SLOW_MS,
  startDemoSite,
} from './site.js';
export { type ExampleUrls, exampleUrls, isLive, LIVE_ENV, UNRESOLVABLE_URL } from './urls.js';
