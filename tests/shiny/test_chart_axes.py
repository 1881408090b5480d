"""The dashboards' chart helpers (roles/shiny/files/app/R/charts.R), run in R.

An hourly chart labels its points with hours, whatever its range: a single hour
once read ``00`` (ggplot's own breaks fell on minutes).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CHARTS = (
    Path(__file__).resolve().parents[2] / "roles" / "shiny" / "files" / "app" / "R" / "charts.R"
)

# Prints the x-axis labels of the Overview's line chart, one per line, for the
# hourly points given as arguments (UTC, "YYYY-MM-DD HH:MM").
X_LABELS = """
source(commandArgs(TRUE)[1])
x <- as.POSIXct(commandArgs(TRUE)[-1], tz = "UTC")
chart <- line_chart(series_frame(x, Events = seq_along(x)), "Activity by hour")
labels <- ggplot2::ggplot_build(chart)$layout$panel_params[[1]]$x$get_labels()
writeLines(labels[!is.na(labels)])
"""


def x_labels(*hours: str) -> list[str]:
    if shutil.which("Rscript") is None:
        pytest.fail("the chart tests need Rscript (Debian package r-base-core): run make setup")
    result = subprocess.run(
        ["Rscript", "-e", X_LABELS, str(CHARTS), *hours],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split("\n")[:-1]


def test_a_single_hour_is_labelled_with_its_hour() -> None:
    assert x_labels("2026-11-24 03:00") == ["03:00"]


def test_a_few_hours_are_labelled_hour_by_hour() -> None:
    assert x_labels("2026-11-24 03:00", "2026-11-24 04:00", "2026-11-24 05:00") == [
        "03:00",
        "04:00",
        "05:00",
    ]


def test_a_range_over_a_day_names_the_day_and_the_hour() -> None:
    hours = [f"2026-11-{day} {hour:02d}:00" for day in (24, 25) for hour in range(0, 24, 3)]
    labels = x_labels(*hours)
    assert labels[0] == "24 Nov 00:00"
    assert "25 Nov 00:00" in labels
    assert all(label.endswith(":00") for label in labels), labels
