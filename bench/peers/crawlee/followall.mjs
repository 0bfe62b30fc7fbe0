// Crawlee's twin of silk's `followall` spider, for bench/run.sh (BENCH_CRAWLEE=1):
//
//   node followall.mjs http://127.0.0.1:PORT/ items.jsonl
//
// A CheerioCrawler (from @crawlee/cheerio: the crawler without the browser packages) that
// follows every link on the start URL's host (enqueueLinks, same-hostname strategy) and
// writes, for each page with a title, its url, title (the h1, else <title>) and price (text
// of the element with class "price" when the page has exactly one) as one JSON line.
// Cheerio has no XPath, so CSS selectors with the same meaning stand in for the XPath
// expressions. 16 requests at a time, no retries, storage in memory only. The last line on
// stdout is "CRAWLEE_STATS {...}" with the crawler's final statistics.
import fs from 'node:fs';

import { CheerioCrawler, Configuration, log } from '@crawlee/cheerio';

const [startUrl, out] = process.argv.slice(2);
if (!startUrl || !out) {
  console.error('usage: node followall.mjs START_URL ITEMS.jsonl');
  process.exit(2);
}
log.setLevel(log.LEVELS.WARNING);
const items = fs.createWriteStream(out);
const norm = (s) => s.replace(/\s+/g, ' ').trim();

const crawler = new CheerioCrawler(
  {
    minConcurrency: 16,
    maxConcurrency: 16,
    maxRequestRetries: 0,
    async requestHandler({ request, $, enqueueLinks }) {
      let title = norm($('h1').first().text());
      if (!title) title = norm($('title').first().text());
      if (title) {
        const item = { url: request.loadedUrl ?? request.url, title };
        const prices = $('.price'); // only a page with exactly one price has "its" price
        const price = prices.length === 1 ? norm(prices.text()) : '';
        if (price) item.price = price;
        items.write(JSON.stringify(item) + '\n');
      }
      await enqueueLinks({ strategy: 'same-hostname' });
    },
  },
  new Configuration({ persistStorage: false, purgeOnStart: true }),
);

const stats = await crawler.run([startUrl]);
await new Promise((resolve) => items.end(resolve));
console.log('CRAWLEE_STATS ' + JSON.stringify(stats));
