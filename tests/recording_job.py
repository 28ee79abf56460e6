"""A job for calling a task in the test's own process: what a task sees of its job in a worker
(explorer.serving.worker.WorkerJob: id, owner, report, should_stop, flush), with the records kept in a list."""


class RecordingJob:
    def __init__(self, id: str = "j", owner: str = "owner"):
        self.id, self.owner = id, owner
        self.records: list = []
        self.stopping = False

    def report(self, record) -> None:
        self.records.append(record)

    def stop(self) -> None:
        self.stopping = True

    def should_stop(self) -> bool:
        return self.stopping

    def flush(self) -> None:
        """Nothing to store: the records are kept in the list."""

    def snapshot(self) -> list:
        return list(self.records)

    def fraction(self) -> float | None:
        last = next((r for r in reversed(self.records) if hasattr(r, "fraction")), None)
        return None if last is None else float(last.fraction)
