"""cribd's container output in the node's own journal, where systemd is PID 1 (the VM lane's
guest): the default journald socket, read back with journalctl as an operator would."""
import os

import pytest

from test_containers import Env, journal_entries, layouts, lines  # noqa: F401 (fixture)
from test_pods import net_cribd  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(
    open("/proc/1/comm").read().strip() != "systemd" or
    not os.path.exists("/run/systemd/journal/socket"),
    reason="needs systemd as PID 1 and its journald (the VM lane)")


def test_container_output_in_the_nodes_journal(net_cribd, pb, layouts, tmp_path):
    c = net_cribd(extra_config='[crib.runtime]\nlog_to_journald = true\n')
    e = Env(c, pb, layouts, str(tmp_path))
    name = f"nodejournal{os.getpid()}"
    try:
        pod = e.pod(name="npod", ns="nns")
        cid = e.run(pod, ["/bin/sh", "-c", "echo to the node; echo oops >&2"], name=name)
        e.wait_exit(cid)
        entries = journal_entries([f"CONTAINER_NAME={name}"], 2, 20)
        by_msg = {x["MESSAGE"]: x for x in entries}
        assert set(by_msg) == {"to the node", "oops"}, entries
        out, err = by_msg["to the node"], by_msg["oops"]
        assert (out["PRIORITY"], err["PRIORITY"]) == ("6", "3")
        assert out["CONTAINER_ID_FULL"] == cid
        assert (out["POD_NAMESPACE"], out["POD_NAME"]) == ("nns", "npod")
        assert lines(e.log_records(pod, name), "stdout") == [b"to the node"]
    finally:
        e.close()
