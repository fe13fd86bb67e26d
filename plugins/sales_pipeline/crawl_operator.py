"""The provider's GlueCrawlerRunOperator, with the two behaviours a catalog refresh needs on top.

- A crawl already running (another refresh, a console click) is waited on, then our own crawl is
  started: the running one may have listed S3 before our objects landed.
- A crawl that ends FAILED or CANCELLED fails the task with the crawler's own ErrorMessage, and
  without retries: the same crawl of the same data fails the same way.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.amazon.aws.operators.glue_crawler import GlueCrawlerRunOperator
from airflow.providers.amazon.aws.triggers.glue_crawler import GlueCrawlerCompleteTrigger

from sales_pipeline.athena_operator import finished_within

# Large first crawls of a lake take hours; the provider's default gives up at 1,500 polls.
MAX_CRAWL_WAIT = timedelta(hours=6)


class CatalogCrawlOperator(GlueCrawlerRunOperator):
    def __init__(self, *, poll_interval: int = 5, **kwargs: Any) -> None:
        super().__init__(deferrable=True, fail_on_already_running=False, poll_interval=poll_interval, **kwargs)

    def _wait(self, method_name: str) -> None:
        self.defer(
            trigger=GlueCrawlerCompleteTrigger(
                crawler_name=self.crawler_name,
                waiter_delay=self.poll_interval,
                waiter_max_attempts=max(1, int(MAX_CRAWL_WAIT.total_seconds() // self.poll_interval)),
                aws_conn_id=self.aws_conn_id,
                region_name=self.region_name,
                verify=self.verify,
                botocore_config=self.botocore_config,
            ),
            method_name=method_name,
        )

    def execute(self, context: Any) -> str:
        from botocore.exceptions import ClientError

        def ready() -> bool:
            return bool(self.hook.get_crawler(self.crawler_name).get("State") == "READY")

        try:
            self.hook.start_crawler(self.crawler_name)
        except ClientError as err:
            if err.response["Error"]["Code"] != "CrawlerRunningException":
                raise
            self.log.warning("Crawler %s is already running: waiting for it, then crawling again.", self.crawler_name)
            if finished_within(ready):
                return self.execute(context)
            self._wait("start_after_running_crawl")
        if finished_within(ready):  # a small crawl may be done before a deferral would even start
            return self.execute_complete(context, {"status": "success"})
        self._wait("execute_complete")
        return self.crawler_name  # not reached: defer() raises

    def start_after_running_crawl(self, context: Any, event: dict[str, Any] | None = None) -> str:
        # The other crawl's outcome is its owner's business; ours starts now.
        return self.execute(context)

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> str:
        from airflow.sdk.exceptions import AirflowException, AirflowFailException

        crawler = self.hook.get_crawler(self.crawler_name)
        last = crawler.get("LastCrawl", {})
        if crawler.get("State") != "READY":
            # The wait gave up while the crawl still runs: LastCrawl is still the previous crawl's.
            raise AirflowException(f"Crawler {self.crawler_name} is still {crawler.get('State')} after the wait: "
                                   f"{(event or {}).get('message', 'no event')}")  # fmt: skip
        if last.get("Status") != "SUCCEEDED":
            raise AirflowFailException(
                f"Crawl of {self.crawler_name} ended {last.get('Status', 'without a status')}: "
                f"{last.get('ErrorMessage', 'the crawler gave no message')} "
                f"(log group {last.get('LogGroup', '-')}, stream {last.get('LogStream', '-')})"
            )
        metrics = self.hook.glue_client.get_crawler_metrics(CrawlerNameList=[self.crawler_name])
        for entry in metrics.get("CrawlerMetricsList", []):
            self.log.info("Crawl of %s SUCCEEDED in %.1f s: tables created %d, updated %d, deleted %d",
                          self.crawler_name, entry.get("LastRuntimeSeconds", 0), entry.get("TablesCreated", 0),
                          entry.get("TablesUpdated", 0), entry.get("TablesDeleted", 0))  # fmt: skip
        return self.crawler_name
