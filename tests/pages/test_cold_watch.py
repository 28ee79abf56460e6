"""A server's first Watch it read page imports no torch (a second of its time): the page lists the models from
their headers, packs a model for the browser in NumPy (model.arrays) and the view runs it there; a restarted
server does not even pack it again (explorer.model.catalog keeps the links). Each run here is a fresh Python
process, as a new or restarted server is."""

import json
import os
import subprocess
import sys
from pathlib import Path

APP = str(Path(__file__).resolve().parents[2] / "explorer" / "app.py")

# One page open in a new process: its errors, whether torch got imported, and torch's intra-op threads then.
PROBE = """
import json, sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=120)
for key, value in json.loads(sys.argv[3]).items():
    at.query_params[key] = value
at.switch_page(sys.argv[2]).run()
out = {"errors": [str(e.value) for e in at.exception] + [e.value for e in at.error], "torch": "torch" in sys.modules}
if out["torch"]:
    out["threads"] = sys.modules["torch"].get_num_threads()
print(json.dumps(out))
"""


def open_page(page: str, **query) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}  # app.py sets it
    done = subprocess.run(
        [sys.executable, "-c", PROBE, APP, page, json.dumps(query)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_new_or_restarted_servers_watch_page_imports_no_torch_and_a_page_that_does_gets_one_thread(user_home):
    assert open_page("../pages/watch.py", compare_on="1") == {"errors": [], "torch": False}  # a new home
    assert len(list((user_home / "cache" / "links").glob("*.json"))) == 2  # the two models' links, kept
    assert open_page("../pages/watch.py", compare_on="1") == {"errors": [], "torch": False}  # restarted
    assert open_page("../pages/watch.py", model="bilstm-128", present="1") == {"errors": [], "torch": False}
    # The probe sees torch where a page imports it: the Gradients page computes on the server.
    assert open_page("../pages/gradients.py") == {"errors": [], "torch": True, "threads": 1}
