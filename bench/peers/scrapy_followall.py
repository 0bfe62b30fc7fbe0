"""Scrapy's twin of silk's `followall` spider, for bench/run.sh.

    scrapy runspider bench/peers/scrapy_followall.py -a url=http://127.0.0.1:PORT/ \
        -O items.jsonl

Follows every link on the start URL's host and yields, for each page with a title, its
url, title (the h1, else <title>) and price (text of the element with class "price" when
the page has exactly one): the same XPath expressions silk's followall evaluates. Settings
match the silk runs: 16 concurrent requests (16 per domain), no delay, no robots.txt, no
autothrottle, telnet console off, INFO logging; items go to JSON Lines through FEEDS (-O).
"""
from urllib.parse import urlsplit

import scrapy

# a listing page shows many prices: only a page with exactly one has "its" price
PRICE = ("normalize-space(//*[contains(concat(' ', normalize-space(@class), ' '), ' price ')]"
         "[count(//*[contains(concat(' ', normalize-space(@class), ' '), ' price ')]) = 1])")


class FollowAllSpider(scrapy.Spider):
    name = "followall"
    custom_settings = {
        "CONCURRENT_REQUESTS": 16,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
        "DOWNLOAD_DELAY": 0,
        "RANDOMIZE_DOWNLOAD_DELAY": False,
        "ROBOTSTXT_OBEY": False,
        "AUTOTHROTTLE_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "INFO",
        "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",  # no deprecation warning on 2.7+
    }

    def __init__(self, url=None, **kwargs):
        super().__init__(**kwargs)
        if not url:
            raise ValueError("followall needs a start URL: -a url=http://HOST:PORT/")
        self.start_urls = [url]
        self.host = urlsplit(url).hostname

    def parse(self, response):
        if not isinstance(response, scrapy.http.HtmlResponse):
            return
        title = response.xpath("normalize-space(//h1)").get()
        if not title:
            title = response.xpath("normalize-space(//title)").get()
        if title:
            item = {"url": response.url, "title": title}
            price = response.xpath(PRICE).get()
            if price:
                item["price"] = price
            yield item
        seen = set()
        for href in response.xpath("//a/@href").getall():
            url = response.urljoin(href.strip())
            if url in seen:
                continue
            seen.add(url)
            if urlsplit(url).hostname == self.host:
                yield scrapy.Request(url, callback=self.parse)
