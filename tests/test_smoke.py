from cairn.core.entities import RunStatus, RunUpdate
from cairn.service.interface import Tracking


def test_a_run_round_trips(tracking: Tracking) -> None:
    run = tracking.create_run("smoke", config={"lr": 0.1, "net": {"depth": 3}}, tags={"team": "a"})
    tracking.update_run(run.id, RunUpdate(status=RunStatus.FINISHED))
    again = tracking.get_run(run.id)
    assert again.params == {"lr": 0.1, "net.depth": 3}
    assert again.tags == {"team": "a"}
    assert again.status is RunStatus.FINISHED
    assert again.end_time is not None
