"""The nightly HTML report, written beside the published warehouse after each good night.

One self-contained file (style and charts inline, no script, nothing fetched): open AR and
overdue per currency, aging and its trend, collections against target, top overdue
customers, credit-limit warnings and reconciliation statistics. See docs/architecture.md.
"""

from pipelines.report.build import write_report

__all__ = ["write_report"]
