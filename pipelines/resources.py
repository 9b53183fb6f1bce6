"""Dagster resources: where the warehouse lives and how to reach it."""

from __future__ import annotations

import os

from dagster import ConfigurableResource

from pipelines.settings import Settings


class WarehouseResource(ConfigurableResource):
    """The inbox and warehouse directory of this deployment (the rest comes from settings)."""

    inbox: str
    warehouse_dir: str

    def settings(self) -> Settings:
        from pathlib import Path

        return Settings.from_env().with_overrides(Path(self.inbox), Path(self.warehouse_dir))

    def fault_point(self, stage: str) -> None:
        """Test hook: with ARW_FAULT_INJECT=<stage>, the process dies here as a kill would."""
        if self.settings().fault_inject == stage:
            os._exit(137)
