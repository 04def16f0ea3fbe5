"""Drawing and writing what a run or a report shows: the history plots of a run folder and
the Markdown / self-contained HTML documents. Below runs and reporting, which both use it."""
